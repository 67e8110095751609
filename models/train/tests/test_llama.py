"""Llama / Qwen2 family: RoPE against the closed-form 2-D rotation, RMSNorm, grouped-query attention
by an explicit loop, SwiGLU, and the [out, in] nn.Linear layout of q_proj... and the untied lm_head."""
import math

import numpy as np
import torch

import checkpoints
from numpy_ops import assert_close, causal_attention, rms_norm, rotate_heads, silu
from reference import Reference, all_hook_names, apply_rotary

V, D, H, HKV, DH, M = 9, 6, 4, 2, 4, 10  # head_dim * H != hidden_size on purpose: head_dim is read from config
EPS, THETA = 1e-6, 100.0
TOKENS = [[1, 8, 3, 3, 0, 5], [2, 7, 7, 4, 6, 1]]
CONFIG = {"model_type": "llama", "hidden_size": D, "intermediate_size": M, "num_attention_heads": H,
          "num_key_value_heads": HKV, "num_hidden_layers": 1, "head_dim": DH, "rms_norm_eps": EPS,
          "rope_theta": THETA, "max_position_embeddings": 16, "vocab_size": V, "hidden_act": "silu",
          "tie_word_embeddings": False}


def hf_llama(seed=1, scale=0.6):
    rng = np.random.default_rng(seed)
    r = lambda *shape: scale * rng.standard_normal(shape)
    c = "model.layers.0."
    return {
        "model.embed_tokens.weight": r(V, D),
        c + "input_layernorm.weight": 1 + 0.2 * rng.standard_normal(D),
        c + "self_attn.q_proj.weight": r(H * DH, D),      # nn.Linear: [out, in], rows h*DH:(h+1)*DH = head h
        c + "self_attn.k_proj.weight": r(HKV * DH, D),
        c + "self_attn.v_proj.weight": r(HKV * DH, D),
        c + "self_attn.o_proj.weight": r(D, H * DH),
        c + "post_attention_layernorm.weight": 1 + 0.2 * rng.standard_normal(D),
        c + "mlp.gate_proj.weight": r(M, D),
        c + "mlp.up_proj.weight": r(M, D),
        c + "mlp.down_proj.weight": r(D, M),
        "model.norm.weight": 1 + 0.2 * rng.standard_normal(D),
        "lm_head.weight": r(V, D),
    }


def load(sd, cfg=CONFIG):
    spec = checkpoints.spec_from_config(cfg)
    w = checkpoints.from_checkpoint(spec, {k: torch.tensor(v, dtype=torch.float32) for k, v in sd.items()})
    return Reference(spec, w).eval()


def numpy_forward(sd, tokens, biases=None):
    """Every hook of one sequence from the HF tensors: y = x @ W.T for each nn.Linear."""
    g = lambda n: sd["model.layers.0." + n]
    biases = biases or {}
    T = len(tokens)
    x = sd["model.embed_tokens.weight"][tokens]
    h = rms_norm(x, g("input_layernorm.weight"), EPS)
    proj = lambda n, heads: (h @ g(f"self_attn.{n}_proj.weight").T + biases.get(n, 0)).reshape(T, heads, DH)
    q, k, v = proj("q", H), proj("k", HKV), proj("v", HKV)
    scores, pattern, z = causal_attention(rotate_heads(q, DH, THETA), rotate_heads(k, DH, THETA), v, math.sqrt(DH))
    W_o = g("self_attn.o_proj.weight")
    result = np.stack([z[:, hd] @ W_o[:, hd * DH:(hd + 1) * DH].T for hd in range(H)], 1)
    attn_out = result.sum(1)  # Llama without attention_bias: no o_proj bias
    resid_mid = x + attn_out
    h2 = rms_norm(resid_mid, g("post_attention_layernorm.weight"), EPS)
    gate, up = h2 @ g("mlp.gate_proj.weight").T, h2 @ g("mlp.up_proj.weight").T
    post = silu(gate) * up  # SwiGLU
    mlp_out = post @ g("mlp.down_proj.weight").T
    resid_post = resid_mid + mlp_out
    normalized = rms_norm(resid_post, sd["model.norm.weight"], EPS)
    a = "blocks.0.attn."
    return {"hook_embed": x, "blocks.0.hook_resid_pre": x,
            a + "hook_q": q, a + "hook_k": k, a + "hook_v": v,  # before rotation, as TransformerLens
            a + "hook_attn_scores": scores, a + "hook_pattern": pattern, a + "hook_z": z, a + "hook_result": result,
            "blocks.0.hook_attn_out": attn_out, "blocks.0.hook_resid_mid": resid_mid,
            "blocks.0.mlp.hook_pre": gate, "blocks.0.mlp.hook_pre_linear": up, "blocks.0.mlp.hook_post": post,
            "blocks.0.hook_mlp_out": mlp_out, "blocks.0.hook_resid_post": resid_post,
            "ln_final.hook_normalized": normalized, "logits": normalized @ sd["lm_head.weight"].T}


def test_rope_on_a_two_dim_head_is_a_rotation_by_position():
    """dh = 2: the only pair (0, 1) has theta_0 = base^0 = 1, so position p rotates by p radians."""
    T = 5
    e0 = torch.tensor([1.0, 0.0]).repeat(1, T, 1, 1)  # [B=1, T, H=1, 2]
    e1 = torch.tensor([0.0, 1.0]).repeat(1, T, 1, 1)
    r0, r1 = apply_rotary(e0, 2, 10000.0)[0, :, 0], apply_rotary(e1, 2, 10000.0)[0, :, 0]
    for p in range(T):
        assert_close(f"e0 at {p}", r0[p], [math.cos(p), math.sin(p)], 1e-6)
        assert_close(f"e1 at {p}", r1[p], [-math.sin(p), math.cos(p)], 1e-6)


def test_rope_pairs_i_and_i_plus_half_rotate_by_pos_times_theta_i():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 7, 3, 8))
    got = apply_rotary(torch.tensor(x, dtype=torch.float32), 8, 50.0)[0].numpy()
    assert_close("rope", got, rotate_heads(x[0], 8, 50.0), 1e-5)


def test_rope_scores_depend_only_on_relative_position():
    """q(p) . k(p') is unchanged when both positions shift: the defining property of RoPE."""
    q = torch.tensor([0.3, -1.2, 0.7, 2.0]).repeat(1, 16, 1, 1)
    k = torch.tensor([1.1, 0.4, -0.5, 0.9]).repeat(1, 16, 1, 1)
    rq, rk = apply_rotary(q, 4, 10000.0)[0, :, 0], apply_rotary(k, 4, 10000.0)[0, :, 0]
    for shift in (1, 5):
        assert abs(float(rq[7] @ rk[3]) - float(rq[7 + shift] @ rk[3 + shift])) < 1e-5


def test_name_map_reads_out_in_layout_per_head():
    sd = hf_llama()
    spec = checkpoints.spec_from_config(CONFIG)
    assert (spec.d_head, spec.n_kv_heads, spec.rotary_dim, spec.rotary_base, spec.tied) == (DH, HKV, DH, THETA, False)
    w = checkpoints.from_checkpoint(spec, {k: torch.tensor(v) for k, v in sd.items()})
    c = "model.layers.0.self_attn."
    for n, heads in (("q", H), ("k", HKV), ("v", HKV)):
        for hd in range(heads):
            np.testing.assert_array_equal(w["blocks.0.W_" + n.upper()][hd].numpy(),
                                          sd[c + n + "_proj.weight"][hd * DH:(hd + 1) * DH].T)
    for hd in range(H):
        np.testing.assert_array_equal(w["blocks.0.W_O"][hd].numpy(), sd[c + "o_proj.weight"][:, hd * DH:(hd + 1) * DH].T)
    np.testing.assert_array_equal(w["blocks.0.W_gate"].numpy(), sd["model.layers.0.mlp.gate_proj.weight"].T)
    np.testing.assert_array_equal(w["blocks.0.W_in"].numpy(), sd["model.layers.0.mlp.up_proj.weight"].T)
    np.testing.assert_array_equal(w["W_U"].numpy(), sd["lm_head.weight"].T)


def test_rmsnorm_matches_formula():
    sd = hf_llama()
    model = load(sd)
    _, cache = model(torch.tensor(TOKENS), hooks=["blocks.0.hook_resid_post", "ln_final.hook_normalized"])
    x = cache["blocks.0.hook_resid_post"].detach().double().numpy()
    by_hand = x / np.sqrt((x ** 2).mean(-1, keepdims=True) + EPS) * sd["model.norm.weight"]
    assert_close("ln_final", cache["ln_final.hook_normalized"], by_hand, 1e-5)


def test_one_layer_gqa_forward_matches_explicit_loop():
    sd = hf_llama()
    model = load(sd)
    logits, cache = model(torch.tensor(TOKENS), hooks=all_hook_names(model.spec))
    assert set(cache) == set(numpy_forward(sd, TOKENS[0]))
    for b, seq in enumerate(TOKENS):
        for name, value in numpy_forward(sd, seq).items():
            assert_close(f"[{b}] {name}", cache[name][b], value, 1e-5)


def test_gqa_query_head_reads_kv_head_h_div_group():
    """Heads 0,1 share kv head 0 and heads 2,3 share kv head 1: with identical query weights, heads of
    one group have identical patterns and heads of different groups do not."""
    sd = hf_llama(seed=4)
    q = sd["model.layers.0.self_attn.q_proj.weight"]
    q[DH:2 * DH], q[2 * DH:3 * DH], q[3 * DH:] = q[:DH], q[:DH], q[:DH]
    _, cache = load(sd)(torch.tensor(TOKENS), hooks=["blocks.0.attn.hook_pattern"])
    p = cache["blocks.0.attn.hook_pattern"]
    assert torch.allclose(p[:, 0], p[:, 1]) and torch.allclose(p[:, 2], p[:, 3])
    assert (p[:, 0] - p[:, 2]).abs().max() > 1e-3


def test_qwen2_adds_qkv_biases_but_no_o_bias():
    sd = hf_llama(seed=2)
    rng = np.random.default_rng(5)
    biases = {"q": rng.standard_normal(H * DH), "k": rng.standard_normal(HKV * DH), "v": rng.standard_normal(HKV * DH)}
    for n, b in biases.items():
        sd[f"model.layers.0.self_attn.{n}_proj.bias"] = b
    cfg = {**CONFIG, "model_type": "qwen2"}
    spec = checkpoints.spec_from_config(cfg)
    assert spec.qkv_bias and not spec.o_bias and not spec.mlp_bias
    model = load(sd, cfg)
    logits, cache = model(torch.tensor(TOKENS[:1]), hooks=["blocks.0.attn.hook_k"])
    expected = numpy_forward(sd, TOKENS[0], biases)
    assert_close("qwen2 hook_k", cache["blocks.0.attn.hook_k"][0], expected["blocks.0.attn.hook_k"], 1e-5)
    assert_close("qwen2 logits", logits[0], expected["logits"], 1e-5)


def test_tied_llama_uses_embedding_as_unembedding():
    sd = hf_llama()
    del sd["lm_head.weight"]
    model = load(sd, {**CONFIG, "tie_word_embeddings": True})
    logits, cache = model(torch.tensor(TOKENS[:1]), hooks=["ln_final.hook_normalized"])
    by_hand = cache["ln_final.hook_normalized"][0].detach().double().numpy() @ sd["model.embed_tokens.weight"].T
    assert_close("tied logits", logits[0], by_hand, 1e-5)
