"""train_modular.py (DESIGN §10): the word-level tokenizer splits `12 + 34 = 46` into prompt ids
[12, +, 34, =] and answer id [46] jointly; label corruption marks exactly the rows whose label differs
from the true answer, round(ξ·n_train) of them; the split and the corruption depend on the seed only;
the fast last-position forward equals the reference; a few training steps run and write a loadable
F16 folder whose all.jsonl carries the meta the neuron lens reads; two checkpoints by fixed rules."""
import json
import os

import pytest
import torch

import checkpoints
import train_modular as tm

V = tm.vocab()
PLUS, EQ = V["+"], V["="]


def test_vocabulary_is_residues_then_operators_then_specials():
    assert [V[str(r)] for r in range(97)] == list(range(97))
    assert (PLUS, EQ, V["<pad>"], V["<unk>"]) == (97, 98, 99, 100)
    assert tm.spec_for().d_vocab == 101


def test_prompt_and_answer_tokenize_jointly():
    prompt, answer = tm.prompt_of(12, 34), tm.answer_of(46)
    assert (prompt, answer) == ("12 + 34 =", " 46")
    p, full = tm.encode(prompt), tm.encode(prompt + answer)
    assert p == [12, PLUS, 34, EQ]
    assert full[:len(p)] == p and full[len(p):] == [46]
    assert tm.encode("0 + 96 =") == [0, PLUS, 96, EQ]


def test_tokenizer_json_is_word_level_on_whitespace_without_added_specials():
    j = tm.tokenizer_json()
    assert j["model"]["type"] == "WordLevel" and j["model"]["vocab"] == V
    assert j["pre_tokenizer"] == {"type": "WhitespaceSplit"}
    assert j["post_processor"] is None  # nothing prepended: the prompt is [a, +, b, =]
    assert {t["content"]: t["id"] for t in j["added_tokens"]} == {"<pad>": 99, "<unk>": 100}


@pytest.mark.parametrize("p,frac,xi,seed", [(97, 0.5, 0.2, 97), (13, 0.4, 0.3, 5), (11, 0.7, 0.1, 0)])
def test_corruption_marks_exactly_the_wrong_labels(p, frac, xi, seed):
    pairs, split, label, corrupted = tm.make_data(p, frac, xi, seed)
    assert pairs == [(a, b) for a in range(p) for b in range(p)]
    train = [ab for ab in pairs if split[ab] == "train"]
    assert len(train) == round(frac * p * p)
    assert len(corrupted) == round(xi * len(train))
    assert corrupted <= set(train)
    wrong = {ab for ab in pairs if label[ab] != (ab[0] + ab[1]) % p}
    assert wrong == corrupted  # every corrupted label is wrong, and no other label is
    assert all(0 <= label[ab] < p for ab in pairs)
    rows = [tm.record(a, b, split, label, corrupted, p) for a, b in pairs]
    for (a, b), r in zip(pairs, rows):
        m = r["meta"]
        assert m["corrupted"] == (r["answer"] != m["true_answer"])
        assert m["true_answer"] == f" {(a + b) % p}" and m["split"] == split[(a, b)]


def test_split_and_corruption_are_deterministic_in_the_seed():
    a = tm.make_data(97, 0.5, 0.2, 97)
    b = tm.make_data(97, 0.5, 0.2, 97)
    c = tm.make_data(97, 0.5, 0.2, 98)
    assert a == b
    assert a[1] != c[1] and a[3] != c[3]


def test_fast_forward_equals_the_reference_at_the_last_position():
    from reference import Reference
    s = tm.spec_for()
    w = tm.init_weights(s, 3)
    g = torch.Generator().manual_seed(4)
    for k in w:
        if k.split(".")[-1].startswith("b_"):
            w[k] = 0.1 * torch.randn(w[k].shape, generator=g)
    m = Reference(s, w)
    x = torch.tensor([[a, PLUS, b, EQ] for a, b in [(0, 0), (12, 34), (96, 1), (50, 50), (3, 90)]])
    with torch.no_grad():
        assert torch.allclose(tm.last_logits(m, x), m(x)[0][:, -1], atol=1e-5)


def test_a_tiny_training_run_writes_a_loadable_folder(tmp_path):
    preset = dict(tm.COMMON, p=11, steps=6, log_every=2, anneal=3, wd=1.0, twin=True)
    out = str(tmp_path / "mod-11")
    meta, log = tm.train("mod-11-wd", preset, out, progress=False)
    assert [e["step"] for e in log] == [0, 2, 4, 6]
    assert set(tm.GROUPS) <= set(log[0])
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "all.jsonl",
                 "training_log.json", "train_meta.json", "README.md"):
        assert os.path.exists(os.path.join(out, name)), name
    assert not any(os.path.exists(os.path.join(out, n)) for n in ("train.jsonl", "test.jsonl"))  # all.jsonl holds the splits
    with open(os.path.join(out, "model.safetensors"), "rb") as f:  # F16, as the 5 MB budget asks
        header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
    assert {v["dtype"] for k, v in header.items() if k != "__metadata__"} == {"F16"}
    spec, model, cfg = checkpoints.load_folder(out)
    assert spec.family == "transformer_lens" and spec.norm == "None" and spec.act == "relu"
    with open(os.path.join(out, "all.jsonl")) as f:
        rows = [json.loads(line) for line in f]
    assert len(rows) == 121 and sum(r["meta"]["split"] == "train" for r in rows) == meta["train_pairs"]
    assert sum(r["meta"]["corrupted"] for r in rows) == meta["corrupted_pairs"] == round(preset["xi"] * meta["train_pairs"])
    # the folder's weights give the accuracies the meta reports
    pairs = [(r["meta"]["a"], r["meta"]["b"]) for r in rows if r["meta"]["split"] == "test"]
    x = torch.tensor([tm.encode(r["prompt"], 11) for r in rows if r["meta"]["split"] == "test"])
    y = torch.tensor([int(r["answer"]) for r in rows if r["meta"]["split"] == "test"])
    with torch.no_grad():
        acc = (model(x)[0][:, -1].argmax(-1) == y).float().mean().item()
    assert len(pairs) == meta["test_pairs"] and round(acc, 4) == meta["final"]["test"]


def _log(*rows):
    return [dict(zip(("step", "train_corrupted", "test"), r)) for r in rows]


def test_checkpoints_are_two_steps_picked_by_the_rules():
    log = _log((0, 0, 0), (100, 0.5, 0.3), (200, 0.92, 0.6), (300, 1, 0.91), (400, 1, 0.96), (500, 1, 0.97))
    assert tm.pick_checkpoints(log, twin=False) == [200, 400]  # memorized, then generalized
    assert tm.pick_checkpoints(log, twin=True) == [200, 300]   # generalizing, then most of the way
    # a rule never met, or met only at the final step, gives no checkpoint
    assert tm.pick_checkpoints(_log((0, 0, 0), (100, 0.95, 0.2), (200, 1, 0.96)), twin=False) == [100]
    assert len(tm.pick_checkpoints(log, twin=False)) <= tm.MAX_CHECKPOINTS


def test_training_is_reproducible(tmp_path):
    preset = dict(tm.COMMON, p=11, steps=4, log_every=2, anneal=2, wd=0.3)
    _, log1 = tm.train("mod-11", preset, str(tmp_path / "a"), progress=False)
    _, log2 = tm.train("mod-11", preset, str(tmp_path / "b"), progress=False)
    assert log1 == log2
    with open(tmp_path / "a" / "model.safetensors", "rb") as f1, open(tmp_path / "b" / "model.safetensors", "rb") as f2:
        assert f1.read() == f2.read()
