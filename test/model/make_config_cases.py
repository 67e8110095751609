"""Writes test/model/config-cases.json: config.json variants and the Spec (or the error) that the
reference's checkpoints.spec_from_config gives for each, so config.test.ts checks the TypeScript
port against the Python one.    /usr/bin/python3 test/model/make_config_cases.py"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "models", "train"))
import checkpoints  # noqa: E402

GPT2 = {"model_type": "gpt2", "n_embd": 16, "n_head": 4, "n_layer": 2, "n_positions": 32, "vocab_size": 21}
LLAMA = {"model_type": "llama", "hidden_size": 16, "num_attention_heads": 4, "num_hidden_layers": 2,
         "intermediate_size": 40, "vocab_size": 21}
NEOX = {"model_type": "gpt_neox", "hidden_size": 32, "num_attention_heads": 4, "num_hidden_layers": 2,
        "intermediate_size": 64, "vocab_size": 21}
TL = {"n_layers": 2, "d_model": 16, "d_head": 4, "n_heads": 4, "act_fn": "gelu", "d_vocab": 21, "n_ctx": 16}

CASES = {
    "gpt2 defaults": GPT2,
    "gpt2 n_inner, relu, untied, eps": {**GPT2, "n_inner": 24, "activation_function": "relu",
                                        "tie_word_embeddings": False, "layer_norm_epsilon": 1e-6},
    "gpt2 n_inner null": {**GPT2, "n_inner": None},
    "gpt2 scale_attn_weights false": {**GPT2, "scale_attn_weights": False},
    "gpt2 scale_attn_by_inverse_layer_idx": {**GPT2, "scale_attn_by_inverse_layer_idx": True},
    "gpt2 missing n_embd": {k: v for k, v in GPT2.items() if k != "n_embd"},
    "llama defaults": LLAMA,
    "llama gqa, head_dim, bias, theta, tied": {**LLAMA, "num_key_value_heads": 2, "head_dim": 8,
                                               "attention_bias": True, "rope_theta": 500000.0,
                                               "tie_word_embeddings": True, "max_position_embeddings": 64},
    "llama default rope_scaling": {**LLAMA, "rope_scaling": {"rope_type": "default"}},
    "llama yarn rope_scaling": {**LLAMA, "rope_scaling": {"type": "yarn", "factor": 2.0}},
    "llama mlp_bias": {**LLAMA, "mlp_bias": True},
    "llama num_key_value_heads null": {**LLAMA, "num_key_value_heads": None},
    "qwen2": {**LLAMA, "model_type": "qwen2", "num_key_value_heads": 1, "rms_norm_eps": 1e-5},
    "neox defaults": NEOX,
    "neox rotary_pct, sequential, no bias": {**NEOX, "rotary_pct": 0.5, "use_parallel_residual": False,
                                             "attention_bias": False, "rotary_emb_base": 20000.0},
    "neox partial_rotary_factor, rope_theta": {**NEOX, "partial_rotary_factor": 1.0, "rope_theta": 1000.0},
    "unsupported model_type": {**GPT2, "model_type": "bert"},
    "tl minimal (HookedTransformerConfig defaults)": TL,
    "tl normalization_type null": {**TL, "normalization_type": None},
    "tl LNPre attn_only d_mlp null": {**TL, "normalization_type": "LNPre", "attn_only": True, "d_mlp": None},
    "tl rotary, rotary_dim null": {**TL, "positional_embedding_type": "rotary", "rotary_dim": None,
                                   "normalization_type": "RMS", "act_fn": "silu"},
    "tl rotary_dim, base, parallel, gated": {**TL, "positional_embedding_type": "rotary", "rotary_dim": 2,
                                             "rotary_base": 500, "parallel_attn_mlp": True,
                                             "gated_mlp": True, "d_mlp": 8},
    "tl attn_scale -1": {**TL, "attn_scale": -1},
    "tl attn_scale 3": {**TL, "attn_scale": 3.0},
    "tl use_attn_scale false": {**TL, "use_attn_scale": False, "attn_scale": 3.0},
    "tl gqa": {**TL, "n_key_value_heads": 2, "eps": 1e-6},
    "tl RMSPre": {**TL, "normalization_type": "RMSPre"},
    "tl alibi": {**TL, "positional_embedding_type": "alibi"},
    "tl missing d_vocab": {k: v for k, v in TL.items() if k != "d_vocab"},
}


def main():
    out = []
    for name, cfg in CASES.items():
        try:
            out.append({"name": name, "config": cfg, "spec": checkpoints.spec_from_config(cfg).to_dict()})
        except checkpoints.CheckpointError as e:
            out.append({"name": name, "config": cfg, "error": str(e)})
    with open(os.path.join(HERE, "config-cases.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
