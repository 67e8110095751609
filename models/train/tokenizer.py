"""Character-level tokenizer shared by the shipped models: writes a Hugging Face tokenizer.json
(WordLevel + Split('.') + Fuse decoder, BOS added by the post-processor) and encodes text the way
that file does, so the reference and the TypeScript engine see the same ids."""
import json
import re

SPECIALS = ["<pad>", "<bos>", "<eos>", "<unk>"]
CHARS = list("0123456789+-*/%= ")
VOCAB = {t: i for i, t in enumerate(SPECIALS + CHARS)}
PAD, BOS, EOS, UNK = (VOCAB[t] for t in SPECIALS)


def tokenizer_json():
    added = [{"id": VOCAB[t], "content": t, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for t in SPECIALS]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "."}, "behavior": "Isolated",
                          "invert": False},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<bos>", "type_id": 0}},
                       {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<bos>", "type_id": 0}},
                     {"Sequence": {"id": "A", "type_id": 0}},
                     {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<bos>": {"id": "<bos>", "ids": [BOS], "tokens": ["<bos>"]}},
        },
        "decoder": {"type": "Fuse"},
        "model": {"type": "WordLevel", "vocab": VOCAB, "unk_token": "<unk>"},
    }


def tokenizer_config(n_ctx):
    return {"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<bos>", "eos_token": "<eos>",
            "pad_token": "<pad>", "unk_token": "<unk>", "model_max_length": n_ctx,
            "clean_up_tokenization_spaces": False}


def write(folder, n_ctx):
    with open(f"{folder}/tokenizer.json", "w") as f:
        json.dump(tokenizer_json(), f, indent=1)
    with open(f"{folder}/tokenizer_config.json", "w") as f:
        json.dump(tokenizer_config(n_ctx), f, indent=1)


_SPECIAL_RE = re.compile("(" + "|".join(re.escape(t) for t in SPECIALS) + ")")


def encode(text, add_special_tokens=True):
    """Special tokens written in the text are matched first (as added tokens are), then characters."""
    ids = [BOS] if add_special_tokens else []
    for part in _SPECIAL_RE.split(text):
        if part in VOCAB and part in SPECIALS:
            ids.append(VOCAB[part])
        else:
            ids.extend(VOCAB.get(c, UNK) for c in part)
    return ids


def decode(ids):
    inv = {i: t for t, i in VOCAB.items()}
    return "".join(inv[i] for i in ids)
