"""export_transformer_lens.py --from-state-dict: a tiny random TransformerLens state dict (with the
buffers a HookedTransformer also saves, and GQA's attn._W_K names) becomes a folder that
checkpoints.load_folder reads back to the same spec, weights and logits."""
import json
import math
import os

import torch

import checkpoints
import export_transformer_lens as export_tl
from reference import Reference, Spec, init_weights

FIXTURE_MODELS = os.path.join(os.path.dirname(__file__), "..", "..", "..", "test", "fixtures", "models")
TOKENS = torch.tensor([[1, 5, 6, 14, 7, 8, 19]])


def tl_state_dict(spec, seed):
    """TransformerLens names (as HookedTransformer.state_dict() has them) plus its non-parameter buffers."""
    weights = init_weights(spec, torch.Generator().manual_seed(seed), std=0.3)
    sd = checkpoints.to_checkpoint(spec, weights)
    if spec.n_kv_heads != spec.n_heads:  # TransformerLens's GroupedQueryAttention stores un-repeated K/V as _W_K...
        sd = {k.replace("attn.W_K", "attn._W_K").replace("attn.W_V", "attn._W_V")
               .replace("attn.b_K", "attn._b_K").replace("attn.b_V", "attn._b_V"): v for k, v in sd.items()}
    for l in range(spec.n_layers):
        sd[f"blocks.{l}.attn.mask"] = torch.ones(spec.n_ctx, spec.n_ctx, dtype=torch.bool).tril()
        sd[f"blocks.{l}.attn.IGNORE"] = torch.tensor(-1e5)
    return weights, sd


def tl_config(spec):
    """A cfg.to_dict()-like dict: the fields the loader reads plus ones it ignores."""
    cfg = checkpoints.config_from_spec(spec)
    cfg.update({"model_name": "tiny", "original_architecture": None, "device": "cpu", "dtype": "torch.float32",
                "n_key_value_heads": spec.n_kv_heads if spec.n_kv_heads != spec.n_heads else None})
    return cfg


def run_export(tmp_path, spec, seed=0):
    weights, sd = tl_state_dict(spec, seed)
    torch.save(sd, tmp_path / "sd.pt")
    (tmp_path / "cfg.json").write_text(json.dumps(tl_config(spec)))
    out = tmp_path / "folder"
    export_tl.main(["--from-state-dict", str(tmp_path / "sd.pt"), "--config", str(tmp_path / "cfg.json"),
                    "--tokenizer-dir", os.path.join(FIXTURE_MODELS, "tl-ln-gelu-standard"), "--out", str(out)])
    return weights, out


def test_exported_folder_loads_back_with_the_same_weights_and_logits(tmp_path):
    spec = Spec(family="transformer_lens", n_layers=2, d_model=16, n_heads=4, n_kv_heads=4, d_head=4, d_mlp=32,
                d_vocab=21, n_ctx=16, norm="LN", act="gelu", unembed_bias=True)
    weights, out = run_export(tmp_path, spec)
    assert sorted(os.listdir(out)) == ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"]
    loaded_spec, model, cfg = checkpoints.load_folder(str(out))
    assert loaded_spec.to_dict() == {**spec.to_dict(), "attn_scale": 2.0}
    assert cfg["device"] == "cpu" and cfg["model_name"] == "tiny"
    for name, w in weights.items():
        assert torch.equal(model.weights()[name], w), name
    want, _ = Reference(spec, weights).eval()(TOKENS)
    got, _ = model(TOKENS)
    assert (got - want).abs().max().item() < 1e-6


def test_grouped_query_attention_names_and_dropped_buffers(tmp_path):
    spec = Spec(family="transformer_lens", n_layers=1, d_model=16, n_heads=4, n_kv_heads=2, d_head=4, d_mlp=32,
                d_vocab=21, n_ctx=16, norm="RMS", act="silu", pos="rotary", rotary_dim=4, unembed_bias=True)
    weights, out = run_export(tmp_path, spec, seed=1)
    loaded_spec, model, _ = checkpoints.load_folder(str(out))
    assert loaded_spec.n_kv_heads == 2
    assert torch.equal(model.weights()["blocks.0.W_K"], weights["blocks.0.W_K"])
    stored = export_tl.safetensors_io.load(str(out / "model.safetensors"))
    assert "blocks.0.attn._W_K" in stored and not any(k.endswith((".mask", ".IGNORE")) for k in stored)


def test_config_values_become_json():
    cfg, dropped = export_tl.config_json({"dtype": torch.float16, "device": torch.device("cpu"), "window": (1, 2),
                                          "scale": float("nan"), "n": torch.tensor(3), "fn": lambda x: x,
                                          "nested": {"a": (torch.bfloat16,)}})
    assert cfg == {"dtype": "torch.float16", "device": "cpu", "window": [1, 2], "scale": None, "n": 3,
                   "nested": {"a": ["torch.bfloat16"]}}
    assert dropped == ["fn"]
    assert math.isclose(export_tl.json_safe(0.5), 0.5)
