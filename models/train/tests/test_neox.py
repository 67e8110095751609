"""GPT-NeoX family: query_key_value interleaved per head ([H, (q|k|v), dh] rows), partial rotary
(only the first rotary_dim features of a head see the position), parallel vs sequential residual."""
import math

import numpy as np
import pytest
import torch

import checkpoints
from numpy_ops import assert_close, causal_attention, gelu_erf, layer_norm, rotate_heads
from reference import Reference, all_hook_names, apply_rotary

V, D, H, M = 8, 8, 2, 12
DH = D // H
ROT = 2  # rotary_pct 0.5 of a 4-dim head
TOKENS = [[0, 7, 2, 5, 5], [4, 1, 6, 3, 2]]


def config(parallel):
    return {"model_type": "gpt_neox", "hidden_size": D, "intermediate_size": M, "num_attention_heads": H,
            "num_hidden_layers": 1, "rotary_pct": ROT / DH, "rotary_emb_base": 10000.0,
            "max_position_embeddings": 16, "layer_norm_eps": 1e-5, "vocab_size": V, "hidden_act": "gelu",
            "use_parallel_residual": parallel}


def per_head(seed=2, scale=0.6):
    """Per-head projections in nn.Linear layout ([dh, D] each) plus the rest of a NeoX state dict."""
    rng = np.random.default_rng(seed)
    r = lambda *shape: scale * rng.standard_normal(shape)
    heads = {n: [r(DH, D) for _ in range(H)] for n in "qkv"}
    head_bias = {n: [r(DH) for _ in range(H)] for n in "qkv"}
    c = "gpt_neox.layers.0."
    sd = {
        "gpt_neox.embed_in.weight": r(V, D),
        c + "input_layernorm.weight": 1 + 0.2 * rng.standard_normal(D), c + "input_layernorm.bias": r(D),
        c + "post_attention_layernorm.weight": 1 + 0.2 * rng.standard_normal(D),
        c + "post_attention_layernorm.bias": r(D),
        # rows: head 0 (q, k, v), head 1 (q, k, v), ... each block dh rows
        c + "attention.query_key_value.weight": np.concatenate([heads[n][h] for h in range(H) for n in "qkv"], 0),
        c + "attention.query_key_value.bias": np.concatenate([head_bias[n][h] for h in range(H) for n in "qkv"]),
        c + "attention.dense.weight": r(D, D), c + "attention.dense.bias": r(D),
        c + "mlp.dense_h_to_4h.weight": r(M, D), c + "mlp.dense_h_to_4h.bias": r(M),
        c + "mlp.dense_4h_to_h.weight": r(D, M), c + "mlp.dense_4h_to_h.bias": r(D),
        "gpt_neox.final_layer_norm.weight": 1 + 0.2 * rng.standard_normal(D),
        "gpt_neox.final_layer_norm.bias": r(D),
        "embed_out.weight": r(V, D),
    }
    return sd, heads, head_bias


def load(sd, parallel):
    spec = checkpoints.spec_from_config(config(parallel))
    w = checkpoints.from_checkpoint(spec, {k: torch.tensor(v, dtype=torch.float32) for k, v in sd.items()})
    return Reference(spec, w).eval()


def numpy_forward(sd, heads, head_bias, tokens, parallel):
    g = lambda n: sd["gpt_neox.layers.0." + n]
    x = sd["gpt_neox.embed_in.weight"][tokens]
    h = layer_norm(x, g("input_layernorm.weight"), g("input_layernorm.bias"))
    proj = {n: np.stack([h @ heads[n][hd].T + head_bias[n][hd] for hd in range(H)], 1) for n in "qkv"}  # [T, H, dh]
    _, pattern, z = causal_attention(rotate_heads(proj["q"], ROT, 10000.0), rotate_heads(proj["k"], ROT, 10000.0),
                                     proj["v"], math.sqrt(DH))
    attn_out = z.reshape(len(tokens), D) @ g("attention.dense.weight").T + g("attention.dense.bias")
    mlp_in = x if parallel else x + attn_out  # parallel: both branches read resid_pre
    pre = layer_norm(mlp_in, g("post_attention_layernorm.weight"), g("post_attention_layernorm.bias")) \
        @ g("mlp.dense_h_to_4h.weight").T + g("mlp.dense_h_to_4h.bias")
    mlp_out = gelu_erf(pre) @ g("mlp.dense_4h_to_h.weight").T + g("mlp.dense_4h_to_h.bias")
    resid_post = x + attn_out + mlp_out
    normalized = layer_norm(resid_post, sd["gpt_neox.final_layer_norm.weight"], sd["gpt_neox.final_layer_norm.bias"])
    return {"blocks.0.attn.hook_q": proj["q"], "blocks.0.attn.hook_k": proj["k"], "blocks.0.attn.hook_v": proj["v"],
            "blocks.0.attn.hook_pattern": pattern, "blocks.0.attn.hook_z": z, "blocks.0.hook_attn_out": attn_out,
            "blocks.0.mlp.hook_pre": pre, "blocks.0.hook_mlp_out": mlp_out, "blocks.0.hook_resid_post": resid_post,
            "logits": normalized @ sd["embed_out.weight"].T}


def test_config_reads_partial_rotary_and_residual_kind():
    spec = checkpoints.spec_from_config(config(True))
    assert (spec.rotary_dim, spec.parallel, spec.act, spec.tied, spec.norm) == (ROT, True, "gelu", False, "LN")
    assert not checkpoints.spec_from_config(config(False)).parallel


def test_query_key_value_rows_are_interleaved_per_head():
    sd, heads, head_bias = per_head()
    spec = checkpoints.spec_from_config(config(True))
    w = checkpoints.from_checkpoint(spec, {k: torch.tensor(v) for k, v in sd.items()})
    for n in "qkv":
        for hd in range(H):
            np.testing.assert_array_equal(w["blocks.0.W_" + n.upper()][hd].numpy(), heads[n][hd].T)
            np.testing.assert_array_equal(w["blocks.0.b_" + n.upper()][hd].numpy(), head_bias[n][hd])


def test_partial_rotary_leaves_features_past_rotary_dim_alone():
    x = torch.tensor([0.5, -1.0, 2.0, 0.25, 3.0, -0.75]).repeat(1, 6, 2, 1)  # same vector at every position
    y = apply_rotary(x, 4, 10000.0)
    assert torch.equal(y[..., 4:], x[..., 4:])
    assert torch.equal(y[:, 0], x[:, 0])  # position 0: angle 0
    assert (y[:, 1:, :, :4] - x[:, 1:, :, :4]).abs().amax(-1).min() > 1e-4  # every later position moves


@pytest.mark.parametrize("parallel", [True, False])
def test_one_layer_forward_matches_numpy(parallel):
    sd, heads, head_bias = per_head()
    model = load(sd, parallel)
    logits, cache = model(torch.tensor(TOKENS), hooks=all_hook_names(model.spec))
    assert ("blocks.0.hook_resid_mid" in cache) is (not parallel)
    for b, seq in enumerate(TOKENS):
        for name, value in numpy_forward(sd, heads, head_bias, seq, parallel).items():
            assert_close(f"[{b}] {name}", cache[name][b], value, 1e-5)


def test_parallel_and_sequential_differ_only_through_the_mlp_input():
    sd, _, _ = per_head()
    tokens = torch.tensor(TOKENS)
    hooks = ["blocks.0.hook_attn_out", "blocks.0.hook_mlp_out", "logits"]
    _, par = load(sd, True)(tokens, hooks=hooks)
    _, seq = load(sd, False)(tokens, hooks=hooks)
    assert torch.equal(par["blocks.0.hook_attn_out"], seq["blocks.0.hook_attn_out"])
    assert (par["blocks.0.hook_mlp_out"] - seq["blocks.0.hook_mlp_out"]).abs().max() > 1e-3
