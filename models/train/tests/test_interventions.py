"""Interventions (DESIGN §4): z' = m z + (1 - m) r on hook_z per head and on hook_post per MLP.
Keeping (m = 1) must be a no-op, replacing with the clean value must reproduce the clean run, and an
ablation must only change what lies downstream of it (later layers, later positions)."""
import pytest
import torch

from reference import Reference, Spec, all_hook_names, init_weights

B, T = 3, 7


def model_for(kind):
    specs = {
        "gpt2": Spec(n_layers=2, d_model=12, n_heads=3, n_kv_heads=3, d_head=4, d_mlp=20, d_vocab=11, n_ctx=10),
        "llama-gqa": Spec(family="llama", n_layers=2, d_model=12, n_heads=4, n_kv_heads=2, d_head=4, d_mlp=16,
                          d_vocab=11, n_ctx=10, norm="RMS", act="silu", gated=True, pos="rotary", rotary_dim=4,
                          qkv_bias=False, o_bias=False, mlp_bias=False),
    }
    s = specs[kind]
    return Reference(s, init_weights(s, torch.Generator().manual_seed(3), std=0.4)).eval()


def tokens_for(model):
    return torch.randint(0, model.spec.d_vocab, (B, T), generator=torch.Generator().manual_seed(1))


def run(model, iv=None):
    with torch.no_grad():
        return model(tokens_for(model), hooks=all_hook_names(model.spec), interventions=iv)[1]


def clean_z(cache, s):  # [B, L, H, T, dh]
    return torch.stack([cache[f"blocks.{l}.attn.hook_z"].permute(0, 2, 1, 3) for l in range(s.n_layers)], 1)


def clean_post(cache, s):  # [B, L, T, M]
    return torch.stack([cache[f"blocks.{l}.mlp.hook_post"] for l in range(s.n_layers)], 1)


def assert_identical(a, b, what):
    assert set(a) == set(b)
    for name in a:
        assert torch.equal(a[name], b[name]), f"{what}: {name} differs by {(a[name] - b[name]).abs().max():.3g}"


def head_iv(s, mask_shape, fill, repl):
    return {"head_mask": torch.full(mask_shape, float(fill)), "head_repl": repl}


def mlp_iv(s, mask_shape, fill, repl):
    return {"mlp_mask": torch.full(mask_shape, float(fill)), "mlp_repl": repl}


KINDS = ["gpt2", "llama-gqa"]


@pytest.mark.parametrize("kind", KINDS)
def test_keep_mask_changes_nothing(kind):
    model = model_for(kind)
    s = model.spec
    L, H, M, dh = s.n_layers, s.n_heads, s.d_mlp, s.d_head
    clean = run(model)
    noise = torch.Generator().manual_seed(7)
    head_r = torch.randn(B, L, H, T, dh, generator=noise)
    mlp_r = torch.randn(B, L, T, M, generator=noise)
    for shape in ((B, L, H), (B, L, H, T)):
        assert_identical(run(model, head_iv(s, shape, 1, head_r)), clean, f"head mask {shape}")
    for shape in ((B, L), (B, L, M)):
        assert_identical(run(model, mlp_iv(s, shape, 1, mlp_r)), clean, f"mlp mask {shape}")


@pytest.mark.parametrize("kind", KINDS)
def test_replacing_with_clean_values_reproduces_clean_run(kind):
    model = model_for(kind)
    s = model.spec
    L, H, M = s.n_layers, s.n_heads, s.d_mlp
    clean = run(model)
    for shape in ((B, L, H), (B, L, H, T)):
        assert_identical(run(model, head_iv(s, shape, 0, clean_z(clean, s))), clean, f"head mask {shape}")
    for shape in ((B, L), (B, L, M)):
        assert_identical(run(model, mlp_iv(s, shape, 0, clean_post(clean, s))), clean, f"mlp mask {shape}")


def changed(a, b):
    return (a - b).abs().max() > 1e-5


@pytest.mark.parametrize("kind", KINDS)
def test_zero_ablating_a_head_changes_only_downstream(kind):
    model = model_for(kind)
    s = model.spec
    L, H = s.n_layers, s.n_heads
    clean = run(model)
    mask = torch.ones(B, L, H)
    mask[:, 0, 1] = 0
    ab = run(model, {"head_mask": mask, "head_repl": torch.zeros(B, L, H, T, s.d_head)})
    a = "blocks.0.attn."
    assert torch.equal(ab[a + "hook_z"][:, :, 1], torch.zeros(B, T, s.d_head))
    assert torch.equal(ab[a + "hook_result"][:, :, 1], torch.zeros(B, T, s.d_model))
    others = [h for h in range(H) if h != 1]
    assert torch.equal(ab[a + "hook_z"][:, :, others], clean[a + "hook_z"][:, :, others])
    assert torch.equal(ab[a + "hook_result"][:, :, others], clean[a + "hook_result"][:, :, others])
    upstream = ["hook_embed", "blocks.0.hook_resid_pre"] + [a + n for n in ("hook_q", "hook_k", "hook_v",
                                                                            "hook_attn_scores", "hook_pattern")]
    for name in upstream:
        assert torch.equal(ab[name], clean[name]), name
    for name in ["blocks.0.hook_attn_out", "blocks.0.hook_resid_mid", "blocks.0.mlp.hook_post",
                 "blocks.1.attn.hook_z", "blocks.1.hook_resid_post", "logits"]:
        assert changed(ab[name], clean[name]), f"{name} should change"


@pytest.mark.parametrize("kind", KINDS)
def test_zero_ablating_a_head_equals_zeroing_its_output_weights(kind):
    """Same effect through a different route: W_O[l][h] = 0 makes that head's result zero."""
    model = model_for(kind)
    s = model.spec
    mask = torch.ones(B, s.n_layers, s.n_heads)
    mask[:, 1, 2] = 0
    ab = run(model, {"head_mask": mask, "head_repl": torch.zeros(B, s.n_layers, s.n_heads, T, s.d_head)})
    w = model.weights()
    w["blocks.1.W_O"][2] = 0
    surgery = run(Reference(s, w).eval())
    assert (ab["logits"] - surgery["logits"]).abs().max() < 1e-6


@pytest.mark.parametrize("kind", KINDS)
def test_zero_ablating_an_mlp_equals_zeroing_its_output_weights(kind):
    model = model_for(kind)
    s = model.spec
    mask = torch.ones(B, s.n_layers)
    mask[:, 0] = 0
    ab = run(model, {"mlp_mask": mask, "mlp_repl": torch.zeros(B, s.n_layers, T, s.d_mlp)})
    assert torch.equal(ab["blocks.0.mlp.hook_post"], torch.zeros(B, T, s.d_mlp))
    w = model.weights()
    w["blocks.0.W_out"].zero_()
    surgery = run(Reference(s, w).eval())
    assert (ab["logits"] - surgery["logits"]).abs().max() < 1e-6


@pytest.mark.parametrize("kind", KINDS)
def test_per_position_mask_changes_only_later_positions(kind):
    model = model_for(kind)
    s = model.spec
    clean = run(model)
    p = 2  # off the middle of T = 7, so a mask read with positions reversed would be caught
    mask = torch.ones(B, s.n_layers, s.n_heads, T)
    mask[:, 0, 0, p] = 0
    ab = run(model, {"head_mask": mask, "head_repl": torch.zeros(B, s.n_layers, s.n_heads, T, s.d_head)})
    z = ab["blocks.0.attn.hook_z"]
    assert torch.equal(z[:, p, 0], torch.zeros(B, s.d_head))
    assert torch.equal(z[:, p + 1:, 0], clean["blocks.0.attn.hook_z"][:, p + 1:, 0])  # same layer: only position p
    for name in ["blocks.0.hook_resid_post", "blocks.1.attn.hook_z", "logits"]:
        before = (ab[name][:, :p] - clean[name][:, :p]).abs().max()
        assert before < 1e-6, f"{name}: positions < {p} moved by {before:.3g}"
        assert changed(ab[name][:, p], clean[name][:, p]), f"{name} at {p}"
    assert changed(ab["logits"][:, T - 1], clean["logits"][:, T - 1])  # the effect reaches the last position


@pytest.mark.parametrize("kind", KINDS)
def test_rows_are_independent_interventions(kind):
    """Row b of a batch sees only its own mask: a batch of (keep, ablate) equals two separate runs."""
    model = model_for(kind)
    s = model.spec
    clean = run(model)
    mask = torch.ones(B, s.n_layers, s.n_heads)
    mask[1, 1, 0] = 0
    ab = run(model, {"head_mask": mask, "head_repl": torch.zeros(B, s.n_layers, s.n_heads, T, s.d_head)})
    for b in (0, 2):
        assert torch.equal(ab["logits"][b], clean["logits"][b])
    assert changed(ab["logits"][1], clean["logits"][1])
