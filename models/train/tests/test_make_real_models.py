"""make_real_models.py: each folder is its real model's config.json with only the size fields shrunk,
seeded random weights under the real checkpoint's tensor names, dtype and sharding, reproducible byte
for byte, loadable by the reference; reference_logits.py gives that model's logits for given ids."""
import json
import os
import struct

import pytest
import torch

import checkpoints
import make_real_models as mrm
import reference_logits
import safetensors_io


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    d = tmp_path_factory.mktemp("real")
    assert mrm.main([str(d)]) == 0
    return d


def headers(folder):
    """{tensor name: (dtype, shape, file)} over model.safetensors or every shard."""
    files = sorted(f for f in os.listdir(folder) if f.endswith(".safetensors"))
    out = {}
    for name in files:
        with open(os.path.join(folder, name), "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(n))
        header.pop("__metadata__", None)
        out.update({k: (v["dtype"], tuple(v["shape"]), name) for k, v in header.items()})
    return out


def test_configs_are_the_real_ones_with_only_sizes_shrunk(out):
    for name, entry in mrm.REAL.items():
        with open(out / name / "config.json") as f:
            cfg = json.load(f)
        real = entry["config"]
        assert set(cfg) == set(real), name
        changed = {k for k in real if cfg[k] != real[k]}
        assert changed == set(entry["shrink"]), name
        assert cfg["num_hidden_layers" if "num_hidden_layers" in cfg else "n_layer"] == 2


def test_real_vocabularies_and_architecture_fields_survive(out):
    specs = {name: checkpoints.load_folder(out / name)[0] for name in mrm.REAL}
    assert {n: s.d_vocab for n, s in specs.items()} == {
        "gpt2": 50257, "pythia-70m": 50304, "llama-2-7b": 32000, "llama-3-8b": 128256, "qwen2.5-0.5b": 151936}
    assert {n: (s.n_heads, s.n_kv_heads) for n, s in specs.items()} == {
        "gpt2": (4, 4), "pythia-70m": (4, 4), "llama-2-7b": (4, 4), "llama-3-8b": (4, 1), "qwen2.5-0.5b": (7, 1)}
    assert {n: s.tied for n, s in specs.items()} == {
        "gpt2": True, "pythia-70m": False, "llama-2-7b": False, "llama-3-8b": False, "qwen2.5-0.5b": True}
    assert specs["pythia-70m"].parallel and specs["pythia-70m"].rotary_dim == 4  # rotary_pct 0.25 of d_head 16
    assert specs["llama-3-8b"].rotary_base == 500000.0 and specs["qwen2.5-0.5b"].rotary_base == 1e6
    assert specs["qwen2.5-0.5b"].qkv_bias and not specs["qwen2.5-0.5b"].o_bias
    assert specs["gpt2"].n_ctx == 1024 and specs["qwen2.5-0.5b"].n_ctx == 32768


def test_weights_have_the_real_names_dtypes_and_shards(out):
    h = {name: headers(out / name) for name in mrm.REAL}
    # GPT-2's published file is GPT2Model's: no transformer. prefix, no lm_head
    assert "wte.weight" in h["gpt2"] and "h.1.attn.c_attn.weight" in h["gpt2"]
    assert not any(k.startswith("transformer.") or k.startswith("lm_head") for k in h["gpt2"])
    assert h["gpt2"]["h.0.attn.c_attn.weight"][:2] == ("F32", (64, 192))  # Conv1D [in, out]
    assert h["pythia-70m"]["gpt_neox.layers.0.attention.query_key_value.weight"][:2] == ("F16", (192, 64))
    assert h["pythia-70m"]["embed_out.weight"][:2] == ("F16", (50304, 64))
    assert h["llama-2-7b"]["lm_head.weight"][:2] == ("F16", (32000, 64))
    assert h["llama-3-8b"]["model.layers.0.self_attn.k_proj.weight"][:2] == ("BF16", (16, 64))  # one kv head
    assert h["llama-3-8b"]["model.embed_tokens.weight"][:2] == ("BF16", (128256, 64))
    assert h["qwen2.5-0.5b"]["model.layers.1.self_attn.q_proj.bias"][:2] == ("BF16", (56,))
    assert "lm_head.weight" not in h["qwen2.5-0.5b"]
    assert {n: len({f for _, _, f in v.values()}) for n, v in h.items()} == {
        "gpt2": 1, "pythia-70m": 1, "llama-2-7b": 2, "llama-3-8b": 4, "qwen2.5-0.5b": 1}
    with open(out / "llama-3-8b" / "model.safetensors.index.json") as f:
        assert set(json.load(f)["weight_map"]) == set(h["llama-3-8b"])


def test_generation_is_deterministic(out, tmp_path):
    mrm.make(str(tmp_path), "llama-2-7b")
    for f in os.listdir(out / "llama-2-7b"):
        with open(out / "llama-2-7b" / f, "rb") as a, open(tmp_path / "llama-2-7b" / f, "rb") as b:
            assert a.read() == b.read(), f


def test_reference_logits_entry_point_matches_the_model(out, tmp_path):
    rows = [[1, 28705, 28740, 28750, 28806, 28770, 28781, 28746, 28781, 28784], [1, 28705, 28781]]
    (tmp_path / "in.json").write_text(json.dumps({"tokens": rows, "hooks": ["blocks.0.attn.hook_pattern"]}))
    folder = str(out / "llama-2-7b")
    assert reference_logits.main([folder, str(tmp_path / "in.json"), str(tmp_path / "out.safetensors")]) == 0
    got = safetensors_io.load(str(tmp_path / "out.safetensors"))
    assert set(got) == {"logits.0", "logits.1", "0.blocks.0.attn.hook_pattern", "1.blocks.0.attn.hook_pattern"}
    _, model, _ = checkpoints.load_folder(folder)
    with torch.no_grad():
        want = model(torch.tensor([rows[1]]))[0][0]
    assert got["logits.1"].shape == (3, 32000)
    assert (got["logits.1"] - want).abs().max() < 1e-5  # float64 there, float32 here
    assert got["0.blocks.0.attn.hook_pattern"].shape == (4, 10, 10)


def test_llama_3_1_rope_scaling_is_refused():
    # Llama-3.1/3.2 configs add rope_scaling {"rope_type": "llama3", ...}: not implemented, refused by name.
    cfg = {**mrm.shrunk_config("llama-3-8b"), "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                                            "original_max_position_embeddings": 8192, "rope_type": "llama3"}}
    with pytest.raises(checkpoints.CheckpointError, match="rope_scaling"):
        checkpoints.spec_from_config(cfg)


def test_unknown_model_is_refused(tmp_path, capsys):
    assert mrm.main([str(tmp_path), "llama-9"]) == 2
    assert "llama-9" in capsys.readouterr().err
