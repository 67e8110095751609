"""GPT-2 family: a 1-layer model built from a hand-made Hugging Face state dict (Conv1D layout,
x @ W convention) and checked hook by hook against a numpy forward written out step by step."""
import numpy as np
import torch

import checkpoints
from numpy_ops import assert_close, causal_attention, gelu_tanh, layer_norm
from reference import Reference, all_hook_names

V, D, H, DH, M, N_CTX = 7, 4, 2, 2, 8, 6
TOKENS = [[3, 0, 6, 2, 5], [1, 1, 4, 0, 6]]


def hf_gpt2(seed=0, scale=0.7):
    """A GPT-2 state dict in Hugging Face layout, every tensor a float64 numpy array."""
    rng = np.random.default_rng(seed)
    r = lambda *shape: scale * rng.standard_normal(shape)
    W_q, W_k, W_v = r(D, D), r(D, D), r(D, D)  # x @ W, head h = columns h*DH:(h+1)*DH
    sd = {
        "transformer.wte.weight": r(V, D),
        "transformer.wpe.weight": r(N_CTX, D),
        "transformer.h.0.ln_1.weight": 1 + 0.2 * rng.standard_normal(D),
        "transformer.h.0.ln_1.bias": r(D),
        "transformer.h.0.attn.c_attn.weight": np.concatenate([W_q, W_k, W_v], 1),  # [D, 3D]
        "transformer.h.0.attn.c_attn.bias": r(3 * D),
        "transformer.h.0.attn.c_proj.weight": r(D, D),  # rows h*DH:(h+1)*DH read head h's z
        "transformer.h.0.attn.c_proj.bias": r(D),
        "transformer.h.0.ln_2.weight": 1 + 0.2 * rng.standard_normal(D),
        "transformer.h.0.ln_2.bias": r(D),
        "transformer.h.0.mlp.c_fc.weight": r(D, M),
        "transformer.h.0.mlp.c_fc.bias": r(M),
        "transformer.h.0.mlp.c_proj.weight": r(M, D),
        "transformer.h.0.mlp.c_proj.bias": r(D),
        "transformer.ln_f.weight": 1 + 0.2 * rng.standard_normal(D),
        "transformer.ln_f.bias": r(D),
    }
    return sd


CONFIG = {"model_type": "gpt2", "n_embd": D, "n_head": H, "n_layer": 1, "n_inner": M, "n_positions": N_CTX,
          "vocab_size": V, "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5}


def load(sd):
    spec = checkpoints.spec_from_config(CONFIG)
    weights = checkpoints.from_checkpoint(spec, {k: torch.tensor(v, dtype=torch.float32) for k, v in sd.items()})
    return Reference(spec, weights).eval()


def numpy_forward(sd, tokens):
    """Every hook of one sequence, computed from the HF tensors directly."""
    g = lambda n: sd["transformer." + n]
    T = len(tokens)
    out = {}
    out["hook_embed"] = g("wte.weight")[tokens]
    out["hook_pos_embed"] = g("wpe.weight")[:T]
    x = out["blocks.0.hook_resid_pre"] = out["hook_embed"] + out["hook_pos_embed"]
    h = layer_norm(x, g("h.0.ln_1.weight"), g("h.0.ln_1.bias"))
    qkv = h @ g("h.0.attn.c_attn.weight") + g("h.0.attn.c_attn.bias")  # [T, 3D]
    q, k, v = (qkv[:, i * D:(i + 1) * D].reshape(T, H, DH) for i in range(3))
    scores, pattern, z = causal_attention(q, k, v, np.sqrt(DH))
    W_o = g("h.0.attn.c_proj.weight")
    result = np.stack([z[:, hd] @ W_o[hd * DH:(hd + 1) * DH] for hd in range(H)], 1)  # [T, H, D]
    attn_out = result.sum(1) + g("h.0.attn.c_proj.bias")
    resid_mid = x + attn_out
    pre = layer_norm(resid_mid, g("h.0.ln_2.weight"), g("h.0.ln_2.bias")) @ g("h.0.mlp.c_fc.weight") + g("h.0.mlp.c_fc.bias")
    post = gelu_tanh(pre)
    mlp_out = post @ g("h.0.mlp.c_proj.weight") + g("h.0.mlp.c_proj.bias")
    resid_post = resid_mid + mlp_out
    normalized = layer_norm(resid_post, g("ln_f.weight"), g("ln_f.bias"))
    a = "blocks.0.attn."
    out.update({a + "hook_q": q, a + "hook_k": k, a + "hook_v": v, a + "hook_attn_scores": scores,
                a + "hook_pattern": pattern, a + "hook_z": z, a + "hook_result": result,
                "blocks.0.hook_attn_out": attn_out, "blocks.0.hook_resid_mid": resid_mid,
                "blocks.0.mlp.hook_pre": pre, "blocks.0.mlp.hook_post": post, "blocks.0.hook_mlp_out": mlp_out,
                "blocks.0.hook_resid_post": resid_post, "ln_final.hook_normalized": normalized,
                "logits": normalized @ g("wte.weight").T})  # tied unembedding
    return out


def test_config_gives_tied_gpt2_spec():
    spec = checkpoints.spec_from_config(CONFIG)
    assert (spec.d_head, spec.n_heads, spec.d_mlp, spec.tied, spec.norm, spec.act) == (DH, H, M, True, "LN", "gelu_new")
    assert spec.scale() == np.sqrt(DH)


def test_conv1d_name_map_splits_q_k_v_columns_per_head():
    sd = hf_gpt2()
    spec = checkpoints.spec_from_config(CONFIG)
    w = checkpoints.from_checkpoint(spec, {k: torch.tensor(v) for k, v in sd.items()})
    c_attn, bias = sd["transformer.h.0.attn.c_attn.weight"], sd["transformer.h.0.attn.c_attn.bias"]
    for i, n in enumerate("QKV"):
        for hd in range(H):
            cols = slice(i * D + hd * DH, i * D + (hd + 1) * DH)
            np.testing.assert_array_equal(w["blocks.0.W_" + n][hd].numpy(), c_attn[:, cols])
            np.testing.assert_array_equal(w["blocks.0.b_" + n][hd].numpy(), bias[cols])
    c_proj = sd["transformer.h.0.attn.c_proj.weight"]
    for hd in range(H):
        np.testing.assert_array_equal(w["blocks.0.W_O"][hd].numpy(), c_proj[hd * DH:(hd + 1) * DH])
    np.testing.assert_array_equal(w["blocks.0.W_in"].numpy(), sd["transformer.h.0.mlp.c_fc.weight"])
    np.testing.assert_array_equal(w["blocks.0.W_out"].numpy(), sd["transformer.h.0.mlp.c_proj.weight"])
    assert "W_U" not in w  # tied: the unembedding is W_E transposed


def test_unprefixed_state_dict_also_loads():
    """GPT2Model checkpoints (no LM head) name tensors without the `transformer.` prefix."""
    sd = hf_gpt2()
    spec = checkpoints.spec_from_config(CONFIG)
    bare = {k[len("transformer."):]: torch.tensor(v) for k, v in sd.items()}
    w = checkpoints.from_checkpoint(spec, bare)
    np.testing.assert_array_equal(w["W_E"].numpy(), sd["transformer.wte.weight"])


def test_one_layer_forward_matches_step_by_step_numpy():
    sd = hf_gpt2()
    model = load(sd)
    logits, cache = model(torch.tensor(TOKENS), hooks=all_hook_names(model.spec))
    assert set(cache) == set(numpy_forward(sd, TOKENS[0]))
    for b, seq in enumerate(TOKENS):
        expected = numpy_forward(sd, seq)
        for name, value in expected.items():
            assert_close(f"[{b}] {name}", cache[name][b], value, 1e-5)
        assert_close(f"[{b}] returned logits", logits[b], expected["logits"], 1e-5)


def test_first_position_attends_only_to_itself():
    """Closed form: at position 0 the causal softmax has one entry, so pattern = 1 and z = v."""
    model = load(hf_gpt2(seed=3))
    _, cache = model(torch.tensor(TOKENS), hooks=["blocks.0.attn.hook_pattern", "blocks.0.attn.hook_z",
                                                  "blocks.0.attn.hook_v"])
    pattern = cache["blocks.0.attn.hook_pattern"]
    assert torch.equal(pattern[:, :, 0, 0], torch.ones(2, H))
    assert torch.equal(pattern[:, :, 0, 1:], torch.zeros(2, H, len(TOKENS[0]) - 1))
    assert_close("z at 0", cache["blocks.0.attn.hook_z"][:, 0], cache["blocks.0.attn.hook_v"][:, 0], 1e-7)


def test_untied_lm_head_is_transposed_into_W_U():
    sd = hf_gpt2()
    lm_head = np.random.default_rng(9).standard_normal((V, D))
    sd["lm_head.weight"] = lm_head
    spec = checkpoints.spec_from_config({**CONFIG, "tie_word_embeddings": False})
    w = checkpoints.from_checkpoint(spec, {k: torch.tensor(v) for k, v in sd.items()})
    np.testing.assert_array_equal(w["W_U"].numpy(), lm_head.T)
