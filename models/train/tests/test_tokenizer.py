"""Character-level tokenizer: ids written out by hand, BOS from the post-processor, special tokens
matched inside text, decode inverting encode, and the tokenizer.json fields DESIGN §9 requires for
transformers.js (WordLevel + Split('.') Isolated + Fuse decoder)."""
import json

import tokenizer as tok

# <pad> <bos> <eos> <unk>, then the characters in this order
BY_HAND = {"<pad>": 0, "<bos>": 1, "<eos>": 2, "<unk>": 3, "0": 4, "1": 5, "2": 6, "3": 7, "4": 8, "5": 9, "6": 10,
           "7": 11, "8": 12, "9": 13, "+": 14, "-": 15, "*": 16, "/": 17, "%": 18, "=": 19, " ": 20}


def test_vocabulary_layout():
    assert tok.VOCAB == BY_HAND
    assert (tok.PAD, tok.BOS, tok.EOS, tok.UNK) == (0, 1, 2, 3)


def test_encode_adds_bos_then_one_id_per_character():
    assert tok.encode("12+34=") == [1, 5, 6, 14, 7, 8, 19]
    assert tok.encode("07*35=") == [1, 4, 11, 16, 7, 9, 19]
    assert tok.encode("46", add_special_tokens=False) == [8, 10]
    assert tok.encode("") == [1]


def test_special_tokens_in_text_are_single_ids():
    assert tok.encode("46<eos>", add_special_tokens=False) == [8, 10, 2]
    assert tok.encode("<bos>1<pad><pad>2") == [1, 1, 5, 0, 0, 6]
    assert tok.encode("<eo", add_special_tokens=False) == [3, 3, 3]  # a partial special is plain (unknown) chars


def test_unknown_characters_map_to_unk():
    assert tok.encode("1x2", add_special_tokens=False) == [5, 3, 6]


def test_decode_inverts_encode():
    for text in ["12+34=46<eos>", "99*99=1089", "7 - 3 = 4", "<pad><unk>%/"]:
        assert tok.decode(tok.encode(text, add_special_tokens=False)) == text
        assert tok.decode(tok.encode(text)) == "<bos>" + text


def test_written_tokenizer_json_has_the_fields_transformers_js_needs(tmp_path):
    tok.write(str(tmp_path), n_ctx=24)
    tj = json.loads((tmp_path / "tokenizer.json").read_text())
    for field in ("normalizer", "pre_tokenizer", "post_processor", "decoder", "model", "added_tokens"):
        assert field in tj, field
    assert tj["model"]["type"] == "WordLevel" and tj["model"]["vocab"] == BY_HAND
    assert tj["model"]["unk_token"] == "<unk>"
    assert tj["pre_tokenizer"] == {"type": "Split", "pattern": {"Regex": "."}, "behavior": "Isolated", "invert": False}
    assert tj["decoder"] == {"type": "Fuse"}
    pp = tj["post_processor"]
    assert pp["type"] == "TemplateProcessing"
    assert pp["single"][0] == {"SpecialToken": {"id": "<bos>", "type_id": 0}}
    assert pp["single"][1] == {"Sequence": {"id": "A", "type_id": 0}}
    assert pp["special_tokens"]["<bos>"]["ids"] == [1]
    added = {t["content"]: t for t in tj["added_tokens"]}
    assert set(added) == {"<pad>", "<bos>", "<eos>", "<unk>"}
    for content, t in added.items():
        assert t["id"] == BY_HAND[content] and t["special"] is True and t["normalized"] is False
    cfg = json.loads((tmp_path / "tokenizer_config.json").read_text())
    assert (cfg["bos_token"], cfg["eos_token"], cfg["pad_token"], cfg["unk_token"]) == ("<bos>", "<eos>", "<pad>", "<unk>")
    assert cfg["model_max_length"] == 24
