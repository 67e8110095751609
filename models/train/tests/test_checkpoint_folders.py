"""checkpoints.save_folder / load_folder: every family round-trips through a Hugging Face or
TransformerLens folder (single file or index + shards, F32/F16/BF16) to the same spec, weights
and logits; missing or misshapen tensors fail with the tensor's name."""
import json
import os

import numpy as np
import pytest
import torch

import checkpoints
import safetensors_io
from reference import Reference, Spec, canonical_shapes, init_weights

BASE = dict(n_layers=2, d_model=8, n_heads=2, n_kv_heads=2, d_head=4, d_mlp=12, d_vocab=10, n_ctx=12)
LLAMA = dict(norm="RMS", eps=1e-6, act="silu", gated=True, pos="rotary", rotary_dim=4, qkv_bias=False, o_bias=False,
             mlp_bias=False)
SPECS = {
    "gpt2-tied": Spec(family="gpt2", tied=True, **BASE),
    "gpt2-untied-relu": Spec(family="gpt2", tied=False, act="relu", **BASE),
    "llama-gqa-bias": Spec(family="llama", **{**BASE, **LLAMA, "n_heads": 4, "n_kv_heads": 1, "qkv_bias": True,
                                              "o_bias": True}),
    "qwen2-tied": Spec(family="qwen2", tied=True, **{**BASE, **LLAMA, "qkv_bias": True, "rotary_base": 1e6}),
    "neox-parallel": Spec(family="gpt_neox", act="gelu", pos="rotary", rotary_dim=2, parallel=True, **BASE),
    "neox-sequential": Spec(family="gpt_neox", act="gelu", pos="rotary", rotary_dim=4, parallel=False, **BASE),
    "tl-ln": Spec(family="transformer_lens", unembed_bias=True, act="gelu", **BASE),
    "tl-attn-only-gqa-rotary": Spec(family="transformer_lens", unembed_bias=True, norm="LNPre", attn_only=True,
                                    pos="rotary", rotary_dim=4, **{**BASE, "d_mlp": 0, "n_kv_heads": 1}),
    "tl-rms-gated-parallel": Spec(family="transformer_lens", unembed_bias=True, norm="RMS", act="silu", gated=True,
                                  parallel=True, **BASE),
}
TOKENS = torch.tensor([[1, 4, 9, 0, 3, 3, 7], [2, 2, 8, 5, 6, 1, 0]])


def rounded(w, dtype):
    return {k: v.to(dtype).float() for k, v in w.items()}


def same_spec(a, b):
    """Equal architectures; TransformerLens configs store the attention scale explicitly."""
    da, db = a.to_dict(), b.to_dict()
    da.pop("attn_scale"), db.pop("attn_scale")
    return da == db and a.scale() == b.scale()


@pytest.mark.parametrize("name", sorted(SPECS))
@pytest.mark.parametrize("dtype, shards", [(torch.float32, 1), (torch.float16, 3), (torch.bfloat16, 2)])
def test_folder_round_trip(tmp_path, name, dtype, shards):
    spec = SPECS[name]
    w = init_weights(spec, torch.Generator().manual_seed(5), std=0.3)
    checkpoints.save_folder(tmp_path, spec, w, dtype=dtype, shards=shards)
    spec2, model, _ = checkpoints.load_folder(tmp_path)
    assert same_spec(spec, spec2), (spec, spec2)
    got, want = model.weights(), rounded(w, dtype)
    assert set(got) == set(want) == set(canonical_shapes(spec))
    for k in want:
        assert torch.equal(got[k], want[k]), k
    with torch.no_grad():
        expected = Reference(spec, want)(TOKENS)[0]
        assert torch.equal(model(TOKENS)[0], expected)


def test_shard_index_lists_every_tensor_once(tmp_path):
    spec = SPECS["llama-gqa-bias"]
    checkpoints.save_folder(tmp_path, spec, init_weights(spec), dtype=torch.bfloat16, shards=3)
    assert not os.path.exists(tmp_path / "model.safetensors")
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    files = sorted(set(index["weight_map"].values()))
    assert files == [f"model-0000{i}-of-00003.safetensors" for i in (1, 2, 3)]
    seen, total = set(), 0
    for f in files:
        tensors = safetensors_io.load(tmp_path / f)
        assert {n for n, g in index["weight_map"].items() if g == f} == set(tensors)
        assert not seen & set(tensors)
        seen |= set(tensors)
        total += sum(2 * t.numel() for t in tensors.values())
    assert seen == set(index["weight_map"])
    assert index["metadata"]["total_size"] == total


def test_config_json_uses_each_family_field_names(tmp_path):
    expect = {"gpt2-tied": {"n_embd": 8, "n_head": 2, "n_layer": 2, "tie_word_embeddings": True},
              "llama-gqa-bias": {"hidden_size": 8, "num_key_value_heads": 1, "head_dim": 4, "attention_bias": True},
              "neox-parallel": {"rotary_pct": 0.5, "use_parallel_residual": True},
              "tl-ln": {"d_model": 8, "normalization_type": "LN", "act_fn": "gelu"}}
    for name, fields in expect.items():
        folder = tmp_path / name
        checkpoints.save_folder(folder, SPECS[name], init_weights(SPECS[name]))
        cfg = json.loads((folder / "config.json").read_text())
        assert {k: cfg[k] for k in fields} == fields, name
        assert ("model_type" in cfg) is (not name.startswith("tl-"))


def test_missing_tensor_is_named():
    spec = SPECS["gpt2-tied"]
    sd = checkpoints.to_checkpoint(spec, init_weights(spec))
    del sd["transformer.h.1.mlp.c_fc.bias"]
    with pytest.raises(checkpoints.CheckpointError, match=r"transformer\.h\.1\.mlp\.c_fc\.bias"):
        checkpoints.from_checkpoint(spec, sd)


def test_misshapen_tensor_is_named():
    spec = SPECS["neox-parallel"]
    sd = checkpoints.to_checkpoint(spec, init_weights(spec))
    sd["gpt_neox.layers.0.mlp.dense_4h_to_h.bias"] = torch.zeros(9)
    with pytest.raises(checkpoints.CheckpointError, match=r"blocks\.0\.b_out.*\(9,\).*\(8,\)"):
        checkpoints.from_checkpoint(spec, sd)


def test_unsupported_model_type_names_field_and_choices():
    with pytest.raises(checkpoints.CheckpointError, match=r"config\.json.*model_type.*'bert'.*gpt2, llama, qwen2, gpt_neox"):
        checkpoints.spec_from_config({"model_type": "bert"})


def test_folder_without_weights_fails_clearly(tmp_path):
    checkpoints.save_folder(tmp_path, SPECS["gpt2-tied"], init_weights(SPECS["gpt2-tied"]))
    os.remove(tmp_path / "model.safetensors")
    with pytest.raises(checkpoints.CheckpointError, match="model.safetensors"):
        checkpoints.load_folder(tmp_path)


@pytest.mark.parametrize("cfg, field", [
    ({"model_type": "llama", "mlp_bias": True}, "mlp_bias"),  # HF would add a gate_proj bias: no canonical slot
    ({"model_type": "gpt2", "scale_attn_weights": False}, "scale_attn_weights"),
    ({"model_type": "llama", "rope_scaling": {"rope_type": "linear", "factor": 2.0}}, "rope_scaling"),
])
def test_configs_the_forward_cannot_honour_are_rejected(cfg, field):
    full = {"n_embd": 8, "n_head": 2, "n_layer": 1, "n_positions": 8, "vocab_size": 10, "hidden_size": 8,
            "num_attention_heads": 2, "num_hidden_layers": 1, "intermediate_size": 16, **cfg}
    with pytest.raises(checkpoints.CheckpointError, match=rf"config\.json: {field}"):
        checkpoints.spec_from_config(full)
