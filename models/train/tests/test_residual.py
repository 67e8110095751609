"""residual.py and reference_residual.py (DESIGN §11) on the fixture models of every norm, position and
residual kind: attributions sum to the logit and the logit diff; the lens's last layer is the model's own
log-softmax and its first a numpy re-derivation; one head -> head and one head -> MLP edge re-derived by a
loop that never reads hook_z_free (a layer-0 sender's effect reaches layer 1 only through the residual, so
freezing layer 0 alone gives layer 1's heads their free z); edges path_patch_scan's scores, NaN layout, and
the CLI's means and left-out counterfactuals."""
import json
import math
import os

import numpy as np
import pytest
import torch

import checkpoints
import experiments as ex
import reference_residual as rr
import residual
import tokenizer as tok
from numpy_ops import layer_norm
from reference import all_hook_names

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "test", "fixtures", "models")
FOLDERS = ["tiny-gpt2", "tl-ln-gelu-standard", "tl-rms-silu-rotary", "tl-lnpre-attn-only", "tl-none-relu-standard",
           "tiny-neox-parallel", "tiny-llama-gqa"]
# answers of 2 and 3 tokens (rows padded), every counterfactual lining up
RECORDS = [
    {"prompt": "12+34=", "answer": "46", "counterfactual": {"prompt": "12+74=", "answer": "86"}},
    {"prompt": "99+1=", "answer": "100", "counterfactual": {"prompt": "98+1=", "answer": "99"}},
    {"prompt": "40+45=", "answer": "85", "counterfactual": {"prompt": "40+15=", "answer": "55"}},
]
# for the CLI: a counterfactual of another length and one missing are left out of the logit diff and edges
CLI_RECORDS = RECORDS + [
    {"prompt": "63+11=", "answer": "74", "counterfactual": {"prompt": "263+11=", "answer": "274"}},
    {"prompt": "5+7=", "answer": "12"},
]


@pytest.fixture(autouse=True)
def float64():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


_models = {}


def load(name):
    """Fixture model in float64 (load once: the weights are cast at construction)."""
    if name not in _models:
        _models[name] = checkpoints.load_folder(os.path.join(FIXTURES, name))[1]
    return _models[name]


def scored(data):
    """(b, i, sequence position, answer token) of every scored position."""
    return [(b, i, int(data["n_prompt"][b]) - 1 + i, t) for b, a in enumerate(data["answers"]) for i, t in enumerate(a)]


@pytest.mark.parametrize("name", FOLDERS)
def test_components_and_constant_sum_to_the_logit_and_the_logit_diff(name):
    model, data = load(name), ex.encode_set(RECORDS)
    s = model.spec
    attr = residual.attribute(model, data)
    with torch.no_grad():
        logits, _ = model(data["clean"])  # every position: not the logits_at route attribute takes
    want = ["embed"] + (["pos_embed"] if s.pos == "standard" else [])
    for l in range(s.n_layers):
        want += [f"L{l}H{h}" for h in range(s.n_heads)] + ([f"L{l}.b_O"] if s.o_bias else []) + \
                ([] if s.attn_only else [f"MLP{l}"])
    assert attr["names"] == want + ["constant"]
    for b, i, pos, t in scored(data):
        assert abs(float(attr["components"][b, i].sum()) - float(logits[b, pos, t])) < 1e-9
        assert abs(float(attr["logit"][b, i]) - float(logits[b, pos, t])) < 1e-9
    assert attr["components"][0, 2].isnan().all() and not attr["has"][0, 2]  # "46" has no third token
    for b, a in enumerate(data["answers"]):
        pos, t, cf = int(data["n_prompt"][b]) - 1, a[0], int(data["cf_first"][b])
        diff = float(logits[b, pos, t] - logits[b, pos, cf])
        assert abs(float(attr["diff_components"][b].sum()) - diff) < 1e-9
        assert abs(float(attr["logit_diff"][b]) - diff) < 1e-9


def test_attribution_without_a_norm_is_the_plain_dot_product():
    """norm None: embed's attribution is W_E[token] . W_U[:, t], b_O's is b_O . W_U[:, t], constant b_U[t]."""
    model, data = load("tl-none-relu-standard"), ex.encode_set(RECORDS)
    attr = residual.attribute(model, data)
    W_E, W_U, b_U = (model.w(n).detach() for n in ("W_E", "W_U", "b_U"))
    names = attr["names"]
    for b, i, pos, t in scored(data):
        tok_in = int(data["clean"][b, pos])
        assert abs(float(attr["components"][b, i, names.index("embed")] - W_E[tok_in] @ W_U[:, t])) < 1e-12
        assert abs(float(attr["components"][b, i, names.index("L1.b_O")] - model.w("blocks.1.b_O") @ W_U[:, t])) < 1e-12
        assert abs(float(attr["components"][b, i, -1] - b_U[t])) < 1e-12


@pytest.mark.parametrize("name", FOLDERS)
def test_lens_at_the_last_layer_is_the_models_log_softmax(name):
    model, data = load(name), ex.encode_set(RECORDS)
    lens = residual.logit_lens(model, data)
    L = model.spec.n_layers
    assert lens["logprob"].shape == (L + 1, 3, 3)
    with torch.no_grad():
        logits, _ = model(data["clean"])
    logp = logits.log_softmax(-1)
    for b, i, pos, t in scored(data):
        assert abs(float(lens["logprob"][L, b, i] - logp[b, pos, t])) < 1e-9
        order = logits[b, pos].argsort(descending=True).tolist()  # ties have probability 0 in float64 logits
        assert int(lens["rank"][L, b, i]) == order.index(t) + 1
        if int(logits[b, pos].argmax()) == t:
            assert int(lens["rank"][L, b, i]) == 1
    assert lens["rank"][:, 0, 2].isnan().all()


def test_lens_at_layer_0_is_ln_final_of_the_embeddings():
    """tiny-gpt2 (LN, tied, learned positions) by numpy: log_softmax(LN(W_E[x] + W_pos[p]) W_E^T)."""
    model, data = load("tiny-gpt2"), ex.encode_set(RECORDS)
    lens = residual.logit_lens(model, data)
    W_E, W_pos = (model.w(n).detach().numpy() for n in ("W_E", "W_pos"))
    w, b_ = (model.w(n).detach().numpy() for n in ("ln_final.w", "ln_final.b"))
    for b, i, pos, t in scored(data):
        x = layer_norm(W_E[int(data["clean"][b, pos])] + W_pos[pos], w, b_, model.spec.eps)
        logits = x @ W_E.T
        want = logits[t] - (logits.max() + math.log(np.exp(logits - logits.max()).sum()))
        assert abs(float(lens["logprob"][0, b, i]) - want) < 1e-10
        assert int(lens["rank"][0, b, i]) == 1 + int((logits > logits[t]).sum())


def test_z_free_is_no_hook_point_and_equals_z_without_interventions():
    model, data = load("tiny-gpt2"), ex.encode_set(RECORDS)
    assert not any("z_free" in n for n in all_hook_names(model.spec))
    with torch.no_grad():
        _, cache = model(data["clean"], hooks=["blocks.1.attn.hook_z", "blocks.1.attn.hook_z_free"])
    assert torch.equal(cache["blocks.1.attn.hook_z"], cache["blocks.1.attn.hook_z_free"])


def layer0_sender_run(model, tokens, zc, zx, hs, hook, freeze_layers):
    """Heads of freeze_layers frozen at clean z, sender L0H{hs} corrupted. Freezing layer 0 alone gives layer 1's
    heads the inputs of the all-frozen run (a 2-layer model), so their hook_z is the z free of the freezing;
    MLP posts take no intervention, so the all-frozen run's hook_post is the recorded one."""
    s = model.spec
    mask = torch.ones(1, s.n_layers, s.n_heads)
    mask[:, freeze_layers] = 0
    repl = zc.clone()
    repl[:, 0, hs] = zx[:, 0, hs]
    return model(tokens, hooks=[hook], interventions={"head_mask": mask, "head_repl": repl})[1][hook]


@torch.no_grad()
def hand_edge(model, data, hs, receiver):
    """Edge L0H{hs} -> receiver ("head", h) in layer 1 or ("mlp", m), one prompt at a time."""
    s = model.spec
    rel = []
    for b, a in enumerate(data["answers"]):
        clean, corrupt = data["clean"][b:b + 1], data["corrupt"][b:b + 1]
        pos, t = int(data["n_prompt"][b]) - 1, a[0]
        zc, zx = ex.z_of(model, clean), ex.z_of(model, corrupt)
        kind, k = receiver
        if kind == "head":
            z = layer0_sender_run(model, clean, zc, zx, hs, "blocks.1.attn.hook_z", [0])[:, :, k]
            mask, repl = torch.ones(1, s.n_layers, s.n_heads), zc.clone()
            mask[:, 1, k] = 0
            repl[:, 1, k] = z
            iv = {"head_mask": mask, "head_repl": repl}
        else:
            post = layer0_sender_run(model, clean, zc, zx, hs, f"blocks.{k}.mlp.hook_post", [0, 1])
            mask, repl = torch.ones(1, s.n_layers), ex.post_of(model, clean)
            mask[:, k] = 0
            repl[:, k] = post
            iv = {"mlp_mask": mask, "mlp_repl": repl}
        base = float(model(clean)[0][0, pos, t])
        patched = float(model(clean, interventions=iv)[0][0, pos, t])
        rel.append((patched - base) / abs(base))
    return sum(rel) / len(rel)


@pytest.fixture(scope="module")
def gpt2_edges():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        model, data = load("tiny-gpt2"), ex.encode_set(RECORDS)
        return model, data, residual.edge_scan(model, data)
    finally:
        torch.set_default_dtype(previous)


def test_an_edge_to_a_head_and_to_an_mlp_equal_a_hand_loop(gpt2_edges):
    model, data, edges = gpt2_edges
    assert abs(float(edges["heads"][0, 1, 1, 2]) - hand_edge(model, data, 1, ("head", 2))) < 1e-12
    assert abs(float(edges["mlps"][0, 3, 0]) - hand_edge(model, data, 3, ("mlp", 0))) < 1e-12  # sequential: m = ls
    assert abs(float(edges["mlps"][0, 0, 1]) - hand_edge(model, data, 0, ("mlp", 1))) < 1e-12
    assert float(edges["heads"][0, 1, 1, 2]) != 0.0


def test_edges_to_logits_are_path_patch_scan(gpt2_edges):
    model, data, edges = gpt2_edges
    want = ex.path_patch_scan(model, data)
    assert torch.allclose(edges["logits"], want["heads"]["answer_logit_rel"], rtol=0, atol=1e-12)
    assert torch.allclose(edges["per_prompt"]["logits"], want["per_prompt"]["answer_logit_rel"], rtol=0, atol=1e-12)
    assert torch.allclose(edges["answer_logit"], want["answer_logit"], rtol=0, atol=1e-12)
    assert edges["per_prompt"]["heads"].shape == (2, 4, 2, 4, 3)


def test_edges_into_the_senders_layer_or_below_are_nan(gpt2_edges):
    _, _, edges = gpt2_edges
    h = edges["heads"]
    assert h[:, :, 0].isnan().all() and h[1].isnan().all() and not h[0, :, 1].isnan().any()
    m = edges["mlps"]  # sequential residual: the sender's own layer's MLP is a receiver
    assert not m[0].isnan().any() and m[1, :, 0].isnan().all() and not m[1, :, 1].isnan().any()


@pytest.mark.parametrize("name", ["tiny-neox-parallel", "tl-lnpre-attn-only"])
def test_mlp_receivers_of_parallel_and_attention_only_models(name):
    model, data = load(name), ex.encode_set(RECORDS[:2])
    edges = residual.edge_scan(model, data)
    if model.spec.attn_only:
        assert edges["mlps"].isnan().all()
    else:  # parallel: MLP l reads resid_pre of l, beside the heads of its own layer
        assert edges["mlps"][:, :, 0].isnan().all() and not edges["mlps"][0, :, 1].isnan().any()
        assert edges["mlps"][1].isnan().all()
    assert not edges["heads"][0, :, 1].isnan().any()


def test_identical_counterfactuals_give_zero_edges():
    same = [{**r, "counterfactual": {"prompt": r["prompt"], "answer": r["answer"]}} for r in RECORDS[:2]]
    edges = residual.edge_scan(load("tiny-llama-gqa"), ex.encode_set(same))
    for k in ("heads", "mlps", "logits"):
        x = edges[k][~edges[k].isnan()]
        assert x.numel() and x.abs().max() < 1e-12


def ids_table(records):
    table = {}
    for r in records:
        for e in [r] + ([r["counterfactual"]] if "counterfactual" in r else []):
            for t in (e["prompt"], e["prompt"] + e["answer"], e["answer"]):
                table[t] = {"special": tok.encode(t), "plain": tok.encode(t, False)}
    return table


def test_cli_averages_per_position_and_leaves_unusable_counterfactuals_out(tmp_path):
    name = "tiny-neox-parallel"
    folder = os.path.join(FIXTURES, name)
    req = {"ids": ids_table(CLI_RECORDS), "sets": [
        {"name": "all", "records": CLI_RECORDS, "attribute": True, "edges": True},
        {"name": "no cf", "records": CLI_RECORDS[3:], "attribute": True, "edges": True}]}
    inp, outp = tmp_path / "in.json", tmp_path / "out.json"
    inp.write_text(json.dumps(req))
    assert rr.main([folder, str(inp), str(outp)]) == 0
    got = json.loads(outp.read_text())
    model = load(name)
    full = ex.encode_set([{k: v for k, v in r.items() if k != "counterfactual"} for r in CLI_RECORDS])
    attr, lens = residual.attribute(model, full, cf_first=None), residual.logit_lens(model, full)
    usable = residual.attribute(model, ex.encode_set(RECORDS))  # records 0..2 are the usable ones
    pos = got["all"]["attribute"]["positions"]
    assert [p["n"] for p in pos] == [5, 5, 1] and got["all"]["attribute"]["usable"] == [0, 1, 2]
    for p in pos:
        i, rows = p["index"], attr["has"][:, p["index"]]
        assert abs(p["logit"] - float(attr["logit"][rows, i].mean())) < 1e-12
        assert [c["name"] for c in p["components"]] == attr["names"]
        for c, comp in enumerate(p["components"]):
            assert abs(comp["logit"] - float(attr["components"][rows, i, c].mean())) < 1e-12
            if i == 0:
                assert abs(comp["logit_diff"] - float(usable["diff_components"][:, c].mean())) < 1e-12
            else:
                assert comp["logit_diff"] is None
        assert abs(sum(c["logit"] for c in p["components"]) - p["logit"]) < 1e-9
        assert [e["layer"] for e in p["lens"]] == [0, 1, 2]
        assert abs(p["lens"][2]["rank"] - float(lens["rank"][2, rows, i].mean())) < 1e-12
    assert abs(sum(c["logit_diff"] for c in pos[0]["components"]) - pos[0]["logit_diff"]) < 1e-9
    edges = got["all"]["edges"]
    want = residual.edge_scan(model, ex.encode_set(RECORDS))
    assert edges["usable"] == [0, 1, 2] and edges["heads"][1][0][0][0] is None
    assert np.allclose(np.array(edges["heads"], dtype=float), want["heads"].numpy(), rtol=0, atol=1e-12, equal_nan=True)
    assert np.allclose(np.array(edges["logits"]), want["logits"].numpy(), rtol=0, atol=1e-12)
    none = got["no cf"]
    assert "edges" not in none and none["attribute"]["usable"] == []
    assert all(c["logit_diff"] is None for c in none["attribute"]["positions"][0]["components"])
