"""neurons.py (DESIGN §10), the reference of the neuron lens: the IPR of one pure wave is 1/2 at r = 2
(its power splits evenly between a pair and its conjugate) and that pair holds all of it; noise has a low
IPR; the dominant pair is the first of itself and its conjugate in row-major order, ties to the first;
a dead neuron has NaN; grids read hook_post at the last prompt position; and a pruned accuracy checked by
hand (zero ablation = the neurons' W_out rows removed; mean ablation = their mean at `=` moved into b_out,
since one layer's logits at `=` read that position's MLP only)."""
import math

import numpy as np
import pytest
import torch

import make_modular_fixture as mf
import neurons as nl
import train_modular as tm
from reference import Reference

P = 7


def wave(p, ka, kb, phase=0.3):
    a, b = np.meshgrid(np.arange(p), np.arange(p), indexing="ij")
    return np.cos(2 * np.pi * (ka * a + kb * b) / p + phase) + 5.0  # an offset: the mean is removed


@pytest.mark.parametrize("ka,kb", [(1, 0), (0, 3), (2, 5), (6, 6)])
def test_pure_wave_ipr_half_and_its_pair(ka, kb):
    ipr, freq, share, runner = nl.summarize(nl.spectrum(wave(P, ka, kb), P), P, r=2)
    assert ipr == pytest.approx(0.5, abs=1e-12)
    conj = ((P - ka) % P, (P - kb) % P)
    assert freq == min((ka, kb), conj)  # the first in row-major order of the two
    assert share == pytest.approx(1.0, abs=1e-12) and runner == pytest.approx(0.0, abs=1e-12)
    # r = 1: Σ share² of two halves
    assert nl.summarize(nl.spectrum(wave(P, ka, kb), P), P, r=1)[0] == pytest.approx(1.0, abs=1e-12)


def test_noise_has_low_ipr():
    rng = np.random.default_rng(0)
    p = 23
    iprs = [nl.summarize(nl.spectrum(rng.standard_normal(p * p), p), p)[0] for _ in range(5)]
    assert max(iprs) < 0.02  # flat is 1/(p² − 1) ≈ 0.0019 at r = 1; r = 2 is smaller still
    assert min(iprs) > 0


def test_fold_rule_and_ties():
    # two waves of equal power: (1, 2) (conjugate (6, 5)) and (3, 0) (conjugate (4, 0)); the first in
    # row-major order of the representatives (1, 2) and (3, 0) wins the tie
    # (exact ties need an exact spectrum: the magnitudes given directly)
    F = np.zeros((P, P))
    F[3, 0] = F[4, 0] = F[1, 2] = F[6, 5] = 2.0
    ipr, freq, share, runner = nl.summarize(F, P)
    assert freq == (1, 2)
    assert share == pytest.approx(0.5, abs=1e-12) and runner == pytest.approx(0.5, abs=1e-12)
    assert ipr == pytest.approx(4 * 0.25 ** 2, abs=1e-12)
    # a stronger second wave wins, reported as its row-major first member, its conjugate folded in
    g = wave(P, 4, 0) * 2 + wave(P, 1, 2)
    _, freq, share, _ = nl.summarize(nl.spectrum(g, P), P)
    assert freq == (3, 0) and share == pytest.approx(0.8, abs=1e-12)
    # even p: (p/2, 0) is its own conjugate and counts once
    p = 8
    a = np.arange(p)[:, None] * np.ones(p)[None]
    _, freq, share, _ = nl.summarize(nl.spectrum(np.cos(np.pi * a), p), p)
    assert freq == (4, 0) and share == pytest.approx(1.0)


def test_dead_neuron_is_nan():
    ipr, freq, share, runner = nl.summarize(nl.spectrum(np.full(P * P, 3.0), P), P)
    assert math.isnan(ipr) and math.isnan(share) and freq == (0, 0)


def records_of(p, seed=0):
    """A full modular set with a split and corrupted labels (train_modular.make_data)."""
    pairs, split, label, corrupted = tm.make_data(p, 0.6, 0.3, seed)
    return [{"prompt": tm.prompt_of(a, b), "answer": tm.answer_of(label[(a, b)]),
             "meta": {"a": a, "b": b, "p": p, "split": split[(a, b)], "corrupted": (a, b) in corrupted,
                      "true_answer": tm.answer_of((a + b) % p)}} for a, b in pairs]


@pytest.fixture(scope="module")
def fixture(tmp_path_factory):
    torch.set_num_threads(1)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    folder = str(tmp_path_factory.mktemp("modfix"))
    mf.make(folder, P, seed=3)
    import checkpoints
    _, model, _ = checkpoints.load_folder(folder)
    encode = lambda text, special=True: tm.encode(text, P)  # noqa: E731  (no special tokens in this tokenizer)
    yield model, encode, records_of(P)
    torch.set_default_dtype(previous)


def test_grids_read_the_last_prompt_position(fixture):
    model, encode, records = fixture
    grids = nl.activation_grids(model, encode, records, batch=10)
    r = records[17]
    _, cache = model(torch.tensor([encode(r["prompt"])]), hooks=["blocks.0.mlp.hook_post"])
    a, b = r["meta"]["a"], r["meta"]["b"]
    np.testing.assert_allclose(grids[0][:, a * P + b], cache["blocks.0.mlp.hook_post"][0, -1].detach().numpy(), rtol=0, atol=0)
    assert not grids[0][0].any()  # the fixture's dead neuron
    s = nl.neuron_summaries(grids, P)
    dead = [x["neuron"] for x in s if math.isnan(x["ipr"])]  # NaN exactly for the constant grids
    assert 0 in dead and dead == [i for i in range(len(s)) if np.ptp(grids[0][i]) == 0]
    assert len(dead) < len(s) // 2 and all(x["ipr"] > 0 for x in s if x["neuron"] not in dead)


def hand_correct(model, encode, records, answer_of, bias_shift=None, removed=()):
    """Correct rows by a plain forward of an edited model: W_out rows of `removed` zeroed, b_out shifted."""
    w = model.weights()
    for i in removed:
        w["blocks.0.W_out"][i] = 0
    if bias_shift is not None:
        w["blocks.0.b_out"] = w["blocks.0.b_out"] + bias_shift
    edited = Reference(model.spec, w)
    toks = torch.tensor([encode(r["prompt"]) for r in records])
    with torch.no_grad():
        logits, _ = edited(toks)
    want = torch.tensor([encode(answer_of(r))[0] for r in records])
    return (logits[:, -1].argmax(-1) == want).tolist()


@pytest.mark.parametrize("ablation", ["zero", "mean"])
def test_pruned_accuracy_by_hand(fixture, ablation):
    model, encode, records = fixture
    pruned = [(0, i) for i in (1, 4, 5, 9, 20, 33, 40)]
    scorer = nl.PruneScorer(model, encode, records, ablation, batch=16)
    got = scorer.score(pruned)
    shift = None
    if ablation == "mean":
        plain = [{"prompt": r["prompt"], "answer": r["answer"]} for r in records]
        post = nl.ex.post_of(model, nl.ex.encode_set(plain, encode=encode)["clean"])[:, 0, 3]  # [B, M] at `=`
        idx = [i for _, i in pruned]
        shift = post[:, idx].mean(0) @ model.w("blocks.0.W_out")[idx]
    trained = hand_correct(model, encode, records, lambda r: r["answer"], shift, [i for _, i in pruned])
    true = hand_correct(model, encode, records, lambda r: r["meta"]["true_answer"], shift, [i for _, i in pruned])
    _, _, groups = nl.modular_layout(records)
    for g in ("train_clean", "train_corrupted", "test"):
        assert got["counts"][g] == sum(trained[i] for i in groups[g]), g
        assert got[g] == pytest.approx(got["counts"][g] / len(groups[g]))
    assert got["counts"]["train_corrupted_true"] == sum(true[i] for i in groups["train_corrupted_true"])
    assert got["counts"]["all"] == sum(trained)
    # nothing pruned = the plain model
    base = scorer.score([])
    assert base["counts"]["all"] == sum(hand_correct(model, encode, records, lambda r: r["answer"]))
