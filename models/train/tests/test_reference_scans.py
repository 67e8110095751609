"""reference_scans.py: scans on precomputed token ids equal experiments.py's scans run the plain way (full
logits at every position, the character tokenizer's own encode); counterfactuals that cannot line up are
left out of patching; the answer encoded alone (a SentencePiece-like table that puts a space token in
front of every answer, as `▁` is) is scored as arithlens did before joint tokenization."""
import json

import pytest
import torch

import checkpoints
import experiments as ex
import reference_scans as rs
import tokenizer as tok
from reference import Spec, init_weights

V = len(tok.VOCAB)
SPACE = tok.VOCAB[" "]
# mixed prompt and answer lengths (the rows are padded), a counterfactual of another length and one missing
RECORDS = [
    {"prompt": "12+34=", "answer": "46", "counterfactual": {"prompt": "12+74=", "answer": "86"}},
    {"prompt": "99+1=", "answer": "100", "counterfactual": {"prompt": "98+1=", "answer": "99"}},
    {"prompt": "40+45=", "answer": "85", "counterfactual": {"prompt": "40+15=", "answer": "55"}},
    {"prompt": "63+11=", "answer": "74", "counterfactual": {"prompt": "263+11=", "answer": "274"}},
    {"prompt": "5+7=", "answer": "12"},
    {"prompt": "250+250=", "answer": "500", "counterfactual": {"prompt": "350+250=", "answer": "600"}},
]
USABLE = [0, 1, 2, 5]
PERM = [3, 0, 5, 4, 1, 2]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    d = tmp_path_factory.mktemp("model")
    s = Spec(family="llama", n_layers=2, d_model=16, n_heads=2, n_kv_heads=1, d_head=8, d_mlp=24, d_vocab=V,
             n_ctx=32, norm="RMS", eps=1e-6, act="silu", gated=True, pos="rotary", rotary_dim=8, qkv_bias=False,
             o_bias=False, mlp_bias=False)
    checkpoints.save_folder(str(d), s, init_weights(s, torch.Generator().manual_seed(3), std=0.4))
    return str(d)


def ids_table(records, space_before_answers=False):
    """{text: {special, plain}} from the character tokenizer; optionally with a space token in front of every
    answer encoded alone, as a SentencePiece tokenizer's `▁`."""
    table = {}
    for r in records:
        for e in [r] + ([r["counterfactual"]] if "counterfactual" in r else []):
            for t in (e["prompt"], e["prompt"] + e["answer"]):
                table[t] = {"special": tok.encode(t), "plain": tok.encode(t, False)}
            plain = ([SPACE] if space_before_answers else []) + tok.encode(e["answer"], False)
            table.setdefault(e["answer"], {"special": tok.encode(e["answer"]), "plain": plain})["plain"] = plain
    return table


def request(records, **kw):
    return {"ids": ids_table(records, kw.pop("space", False)),
            "sets": [{"name": "s", "records": records, "perm": PERM, "methods": ["zero", "mean", "resample", "patch", "path"],
                      **kw}]}


@pytest.fixture(scope="module")
def result(folder):
    return rs.reference_scans(folder, request(RECORDS, alone=True, space=True))["s"]


@pytest.fixture(scope="module")
def plain_way(folder):
    """The same scans with the full logits and tok.encode, as make_fixtures.py runs them."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        _, model, _ = checkpoints.load_folder(folder)
        full = ex.encode_set([{k: v for k, v in r.items() if k != "counterfactual"} for r in RECORDS])
        cf = ex.encode_set([RECORDS[i] for i in USABLE])
        logits, _ = model(full["clean"])
        out = {"eval": ex.metrics(logits, full["clean"], full["n_prompt"], full["answers"]), "full": full}
        for m in ("zero", "mean", "resample"):
            out[m] = ex.ablation_scan(model, full, m, PERM)
        out["usable zero"] = ex.ablation_scan(model, cf, "zero")
        out["patch"] = ex.patch_scan(model, cf)
        out["path"] = ex.path_patch_scan(model, cf)
        return out
    finally:
        torch.set_default_dtype(previous)


def close(got, want, tol=1e-12):
    assert torch.tensor(got, dtype=torch.float64).sub(torch.as_tensor(want, dtype=torch.float64)).abs().max() <= tol


def test_eval_equals_metrics_on_the_full_logits(result, plain_way):
    e, want = result["eval"], plain_way["eval"]
    assert e["answers"] == plain_way["full"]["answers"] and e["answers"][1] == tok.encode("100", False)
    assert e["n_prompt"] == plain_way["full"]["n_prompt"].tolist()
    close(e["logprobs"], want["logprob"])
    assert e["correct"] == want["accuracy"].tolist()
    close([e["logprob"], e["accuracy"]], [want["logprob"].mean(), want["accuracy"].mean()])
    assert len(e["per_position_accuracy"]) == 3  # the third position has only the 3-digit answers


def test_scans_on_answer_positions_equal_the_scans_on_full_logits(result, plain_way):
    for m in ("zero", "mean", "resample"):
        for part in ("heads", "mlps"):
            assert set(result[m][part]) == set(plain_way[m][part]), (m, part)
            for k, v in plain_way[m][part].items():
                close(result[m][part][k], v)
    assert result["resample"]["mlps"] == {}
    for k, v in plain_way["patch"]["heads"].items():
        close(result["patch"]["heads"][k], v)
    for k in ("heads", "per_prompt"):
        close(result["path"][k]["answer_logit_rel"], plain_way["path"][k]["answer_logit_rel"])
    close(result["path"]["answer_logit"], plain_way["path"]["answer_logit"])
    assert torch.tensor(result["path"]["per_prompt"]["answer_logit_rel"]).shape == (2, 2, len(USABLE))
    assert "logit_diff" not in result["zero"]["heads"]  # not every prompt has a usable counterfactual


def test_ablations_score_the_logit_diff_when_every_counterfactual_is_usable(folder, plain_way):
    usable = [RECORDS[i] for i in USABLE]
    got = rs.reference_scans(folder, request(usable, methods=["zero"]))["s"]["zero"]
    for k, v in plain_way["usable zero"]["heads"].items():
        close(got["heads"][k], v)
    assert "logit_diff" in got["heads"] and "logit_diff" in got["mlps"]


def test_counterfactuals_of_another_length_or_none_are_left_out(result):
    assert result["usable"] == USABLE and result["left_out"] == 2


def test_answer_encoded_alone_scores_the_space_token_first(result):
    alone = result["alone"]
    assert [a[0] for a in alone["answers"]] == [SPACE] * len(RECORDS)
    assert alone["answers"][0][1:] == result["eval"]["answers"][0]
    # logit(space) - logit(space): identically 0, as --metric logit-diff was on SentencePiece models
    assert [d for d in alone["logit_diff"] if d is not None] == [0.0] * 5 and alone["logit_diff"][4] is None
    assert all(abs(a - b) > 1e-6 for a, b in zip(alone["logprob"], result["eval"]["logprobs"]))


def test_logits_at_gathers_the_full_logits():
    s = Spec(family="gpt2", n_layers=1, d_model=8, n_heads=2, n_kv_heads=2, d_head=4, d_mlp=16, d_vocab=V, n_ctx=16,
             norm="LN", act="gelu_new", tied=True)
    from reference import Reference
    model = Reference(s, init_weights(s, torch.Generator().manual_seed(0), std=0.5))
    tokens = torch.randint(0, V, (3, 7), generator=torch.Generator().manual_seed(1))
    at = torch.tensor([[0, 6], [2, 3], [5, 5]])
    with torch.no_grad():
        full, _ = model(tokens)
        some, _ = model(tokens, logits_at=at)
    # the same values up to the matrix product's rounding (BLAS blocks the two shapes differently)
    assert torch.allclose(some, full.gather(1, at[..., None].expand(-1, -1, V)), rtol=0, atol=1e-6)


def test_main_reads_and_writes_json_and_names_a_missing_text(folder, tmp_path):
    inp, out = tmp_path / "in.json", tmp_path / "out.json"
    inp.write_text(json.dumps(request(RECORDS[:3], methods=["zero"])))
    assert rs.main([folder, str(inp), str(out)]) == 0
    got = json.loads(out.read_text())["s"]
    assert set(got) == {"eval", "usable", "left_out", "zero"} and got["usable"] == [0, 1, 2]
    bad = request(RECORDS[:3], methods=[])
    del bad["ids"]["40+45=85"]
    inp.write_text(json.dumps(bad))
    with pytest.raises(KeyError, match="40\\+45=85"):
        rs.main([folder, str(inp), str(out)])
