"""TransformerLens folders: HookedTransformerConfig dicts -> Spec, TL state-dict names, the
normalisation kinds (LN, LNPre without weights, RMS, None), attn_only, activation functions and
the unembedding bias."""
import math

import numpy as np
import pytest
import torch

import checkpoints
from numpy_ops import ACTS as NP_ACTS, assert_close, layer_norm, rms_norm
from reference import ACTS, Reference, all_hook_names, canonical_shapes

L, D, H, DH, M, V, N_CTX = 2, 8, 2, 4, 12, 10, 8
TOKENS = torch.tensor([[2, 9, 4, 4, 0, 1], [7, 3, 3, 8, 5, 6]])


def tl_config(**kw):
    cfg = {"n_layers": L, "d_model": D, "d_head": DH, "n_heads": H, "d_mlp": M, "d_vocab": V, "n_ctx": N_CTX,
           "act_fn": "gelu", "normalization_type": "LN", "positional_embedding_type": "standard"}
    cfg.update(kw)
    return cfg


def tl_state_dict(cfg, seed=0, scale=0.5):
    """Random tensors under TransformerLens's own names and shapes."""
    rng = np.random.default_rng(seed)
    r = lambda *shape: torch.tensor(scale * rng.standard_normal(shape), dtype=torch.float32)
    kv = cfg.get("n_key_value_heads") or H
    gqa = "_" if kv != H else ""
    sd = {"embed.W_E": r(V, D), "unembed.W_U": r(D, V), "unembed.b_U": r(V)}
    if cfg.get("positional_embedding_type", "standard") == "standard":
        sd["pos_embed.W_pos"] = r(N_CTX, D)
    norm = cfg.get("normalization_type", "LN")
    lns = ["ln1"] + ([] if cfg.get("attn_only") else ["ln2"])
    for l in range(L):
        p = f"blocks.{l}."
        sd.update({p + "attn.W_Q": r(H, D, DH), p + "attn.b_Q": r(H, DH), p + f"attn.{gqa}W_K": r(kv, D, DH),
                   p + f"attn.{gqa}b_K": r(kv, DH), p + f"attn.{gqa}W_V": r(kv, D, DH), p + f"attn.{gqa}b_V": r(kv, DH),
                   p + "attn.W_O": r(H, DH, D), p + "attn.b_O": r(D)})
        if not cfg.get("attn_only"):
            sd.update({p + "mlp.W_in": r(D, M), p + "mlp.b_in": r(M), p + "mlp.W_out": r(M, D), p + "mlp.b_out": r(D)})
        for n in lns:
            if norm in ("LN", "RMS"):
                sd[p + n + ".w"] = 1 + r(D) / 3
            if norm == "LN":
                sd[p + n + ".b"] = r(D)
    if norm in ("LN", "RMS"):
        sd["ln_final.w"] = 1 + r(D) / 3
    if norm == "LN":
        sd["ln_final.b"] = r(D)
    return sd


def load(cfg, seed=0):
    spec = checkpoints.spec_from_config(cfg)
    sd = tl_state_dict(cfg, seed)
    return Reference(spec, checkpoints.from_checkpoint(spec, sd)).eval(), sd


def run_all_hooks(model):
    with torch.no_grad():
        return model(TOKENS, hooks=all_hook_names(model.spec))


def test_config_is_recognised_and_maps_fields():
    spec = checkpoints.spec_from_config(tl_config(n_key_value_heads=1, eps=1e-6, act_fn="silu"))
    assert spec.family == "transformer_lens"
    assert (spec.n_layers, spec.d_model, spec.n_heads, spec.n_kv_heads, spec.d_head, spec.d_mlp) == (L, D, H, 1, DH, M)
    assert (spec.eps, spec.act, spec.unembed_bias, spec.tied) == (1e-6, "silu", True, False)
    assert spec.scale() == pytest.approx(math.sqrt(DH))


def test_state_dict_names_map_to_canonical_weights():
    cfg = tl_config(n_key_value_heads=1)  # GQA: TransformerLens names the kv weights attn._W_K / attn._b_K
    spec = checkpoints.spec_from_config(cfg)
    sd = tl_state_dict(cfg)
    w = checkpoints.from_checkpoint(spec, sd)
    pairs = {"W_E": "embed.W_E", "W_pos": "pos_embed.W_pos", "W_U": "unembed.W_U", "b_U": "unembed.b_U",
             "ln_final.w": "ln_final.w", "blocks.1.ln2.b": "blocks.1.ln2.b", "blocks.0.W_Q": "blocks.0.attn.W_Q",
             "blocks.1.W_K": "blocks.1.attn._W_K", "blocks.1.b_V": "blocks.1.attn._b_V", "blocks.0.W_O": "blocks.0.attn.W_O",
             "blocks.1.W_in": "blocks.1.mlp.W_in", "blocks.0.b_out": "blocks.0.mlp.b_out"}
    for canonical, tl in pairs.items():
        assert torch.equal(w[canonical], sd[tl]), canonical
    assert set(w) == set(canonical_shapes(spec))


def test_ln_block_input_and_unembed_bias_by_hand():
    model, sd = load(tl_config())
    logits, cache = run_all_hooks(model)
    x = cache["blocks.0.hook_resid_pre"].double().numpy()
    h = layer_norm(x, sd["blocks.0.ln1.w"].double().numpy(), sd["blocks.0.ln1.b"].double().numpy())
    q = np.einsum("btd,hde->bthe", h, sd["blocks.0.attn.W_Q"].double().numpy()) + sd["blocks.0.attn.b_Q"].double().numpy()
    assert_close("hook_q", cache["blocks.0.attn.hook_q"], q, 1e-5)
    fin = cache["ln_final.hook_normalized"].double().numpy()
    assert_close("logits", logits, fin @ sd["unembed.W_U"].double().numpy() + sd["unembed.b_U"].double().numpy(), 1e-5)


def test_lnpre_has_no_weights_and_normalises():
    cfg = tl_config(normalization_type="LNPre")
    spec = checkpoints.spec_from_config(cfg)
    assert not [n for n in canonical_shapes(spec) if "ln" in n]
    model, _ = load(cfg)
    _, cache = run_all_hooks(model)
    x = cache[f"blocks.{L - 1}.hook_resid_post"].double().numpy()
    y = cache["ln_final.hook_normalized"].double().numpy()
    assert_close("LNPre", y, layer_norm(x, eps=1e-5), 1e-5)
    assert np.abs(y.mean(-1)).max() < 1e-5
    var = x.var(-1)
    assert_close("LNPre variance", (y ** 2).mean(-1), var / (var + 1e-5), 1e-5)


def test_none_normalisation_leaves_the_stream_unchanged():
    cfg = tl_config(normalization_type=None)
    assert checkpoints.spec_from_config(cfg).norm == "None"
    model, sd = load(cfg)
    _, cache = run_all_hooks(model)
    assert torch.equal(cache["ln_final.hook_normalized"], cache[f"blocks.{L - 1}.hook_resid_post"])
    x = cache["blocks.1.hook_resid_mid"].double().numpy()  # MLP reads the raw stream
    assert_close("mlp pre", cache["blocks.1.mlp.hook_pre"], x @ sd["blocks.1.mlp.W_in"].double().numpy()
                 + sd["blocks.1.mlp.b_in"].double().numpy(), 1e-5)


def test_rms_normalisation_by_hand():
    model, sd = load(tl_config(normalization_type="RMS", eps=1e-6))
    _, cache = run_all_hooks(model)
    x = cache[f"blocks.{L - 1}.hook_resid_post"].double().numpy()
    assert_close("RMS", cache["ln_final.hook_normalized"], rms_norm(x, sd["ln_final.w"].double().numpy(), 1e-6), 1e-5)


def test_attn_only_has_no_mlp_hooks():
    cfg = tl_config(attn_only=True, d_mlp=None, act_fn=None)
    spec = checkpoints.spec_from_config(cfg)
    names = all_hook_names(spec)
    assert not [n for n in names if "mlp" in n or "resid_mid" in n]
    assert not [n for n in canonical_shapes(spec) if "W_in" in n or "ln2" in n]
    model, _ = load(cfg)
    _, cache = run_all_hooks(model)
    assert set(cache) == set(names)
    for l in range(L):
        p = f"blocks.{l}."
        assert torch.equal(cache[p + "hook_resid_post"], cache[p + "hook_resid_pre"] + cache[p + "hook_attn_out"])


KNOWN = {  # Phi and sigmoid tables: gelu(x) = x Phi(x), silu(x) = x sigmoid(x)
    "relu": {-2.0: 0.0, -0.5: 0.0, 1.0: 1.0, 3.0: 3.0},
    "gelu": {-2.0: -2 * 0.022750131948179, 1.0: 0.841344746068543, 3.0: 3 * 0.998650101968370},
    "gelu_new": {1.0: 0.841191990608277, -2.0: -0.045402305912225},
    "silu": {-2.0: -2 * 0.119202922022118, 1.0: 0.731058578630005, 3.0: 3 * 0.952574126822433},
}


@pytest.mark.parametrize("act", sorted(KNOWN))
def test_activation_values_at_known_points(act):
    for x, y in KNOWN[act].items():
        assert float(ACTS[act](torch.tensor([x], dtype=torch.float64))) == pytest.approx(y, abs=1e-12), (act, x)
    assert float(ACTS["gelu"](torch.tensor([1.0], dtype=torch.float64))) != pytest.approx(KNOWN["gelu_new"][1.0], abs=1e-6)


@pytest.mark.parametrize("act", ["relu", "gelu", "gelu_new", "silu"])
def test_mlp_applies_configured_activation(act):
    model, _ = load(tl_config(act_fn=act))
    _, cache = run_all_hooks(model)
    pre = cache["blocks.0.mlp.hook_pre"].double().numpy()
    assert_close(act, cache["blocks.0.mlp.hook_post"], NP_ACTS[act](pre), 1e-6)


def test_use_attn_scale_false_divides_by_one():
    model, _ = load(tl_config(use_attn_scale=False))
    assert model.spec.scale() == 1.0
    _, cache = run_all_hooks(model)
    q, k = cache["blocks.0.attn.hook_q"].double().numpy(), cache["blocks.0.attn.hook_k"].double().numpy()
    raw = np.einsum("bqhe,bkhe->bhqk", q, k)
    scores = cache["blocks.0.attn.hook_attn_scores"].double().numpy()
    tri = np.tril(np.ones((6, 6), bool))
    assert_close("unscaled scores", scores[..., tri], raw[..., tri], 1e-5)
    assert np.isneginf(scores[..., ~tri]).all()


def test_hooked_transformer_config_defaults():
    """Fields HookedTransformerConfig fills in when a dict leaves them out (or at their sentinel)."""
    cfg = tl_config()
    del cfg["normalization_type"], cfg["d_mlp"]
    spec = checkpoints.spec_from_config({**cfg, "attn_scale": -1.0})
    assert spec.norm == "LN"  # normalization_type defaults to "LN"
    assert spec.d_mlp == 4 * D  # d_mlp defaults to 4 * d_model
    assert spec.scale() == pytest.approx(math.sqrt(DH))  # attn_scale -1 means sqrt(d_head)
    rot = checkpoints.spec_from_config(tl_config(positional_embedding_type="rotary", rotary_dim=None))
    assert rot.rotary_dim == DH  # rotary_dim defaults to d_head
    assert checkpoints.spec_from_config(tl_config(attn_scale=2.5)).scale() == 2.5


def test_rotary_tl_model_rotates_every_feature_by_default():
    """With rotary_dim left out, a rotary TL model must still see positions: a sequence of one repeated
    token gets different attention outputs at different positions."""
    model, _ = load(tl_config(positional_embedding_type="rotary", normalization_type="LN"))
    with torch.no_grad():
        _, cache = model(torch.full((1, 6), 3), hooks=["blocks.0.attn.hook_attn_scores"])
    s = cache["blocks.0.attn.hook_attn_scores"][0]
    assert (s[:, 5, 0] - s[:, 5, 5]).abs().max() > 1e-4  # same q and k token, different distance
