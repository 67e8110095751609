"""Checkpoint name maps: Hugging Face (gpt2, llama, qwen2, gpt_neox) and TransformerLens folders
<-> the canonical TransformerLens-shaped weights of reference.py. Each family is a pair of small
functions; the quirks (GPT-2's Conv1D stores [in, out], NeoX interleaves q/k/v per head) are noted
where they are handled."""
import json
import math
import os

import torch

import safetensors_io
from reference import Spec, Reference, canonical_shapes


class CheckpointError(ValueError):
    pass


# -- configs ------------------------------------------------------------------------------------
def _need(cfg, key, where="config.json"):
    if key not in cfg:
        raise CheckpointError(f"{where}: missing field '{key}'")
    return cfg[key]


def is_transformer_lens(cfg):
    return "model_type" not in cfg and all(k in cfg for k in ("n_layers", "d_model", "d_head", "n_heads", "act_fn"))


def spec_from_config(cfg):
    if is_transformer_lens(cfg):
        return _tl_spec(cfg)
    mt = cfg.get("model_type")
    if mt == "gpt2":
        D = _need(cfg, "n_embd")
        H = _need(cfg, "n_head")
        if cfg.get("scale_attn_by_inverse_layer_idx") or cfg.get("reorder_and_upcast_attn"):
            raise CheckpointError("config.json: scale_attn_by_inverse_layer_idx / reorder_and_upcast_attn are not supported")
        if not cfg.get("scale_attn_weights", True):
            raise CheckpointError("config.json: scale_attn_weights false is not supported (only true)")
        return Spec(family="gpt2", n_layers=_need(cfg, "n_layer"), d_model=D, n_heads=H, n_kv_heads=H,
                    d_head=D // H, d_mlp=cfg.get("n_inner") or 4 * D, d_vocab=_need(cfg, "vocab_size"),
                    n_ctx=_need(cfg, "n_positions"), norm="LN", eps=cfg.get("layer_norm_epsilon", 1e-5),
                    act=cfg.get("activation_function", "gelu_new"), pos="standard",
                    tied=cfg.get("tie_word_embeddings", True))
    if mt in ("llama", "qwen2"):
        D = _need(cfg, "hidden_size")
        H = _need(cfg, "num_attention_heads")
        dh = cfg.get("head_dim") or D // H
        rs = cfg.get("rope_scaling")
        if rs and rs.get("rope_type", rs.get("type")) not in (None, "default"):
            raise CheckpointError("config.json: rope_scaling is not supported (only default RoPE)")
        bias = True if mt == "qwen2" else bool(cfg.get("attention_bias", False))
        if cfg.get("mlp_bias"):  # HF then gives gate_proj a bias too, which the canonical set has no slot for
            raise CheckpointError("config.json: mlp_bias true is not supported (only false)")
        return Spec(family=mt, n_layers=_need(cfg, "num_hidden_layers"), d_model=D, n_heads=H,
                    n_kv_heads=cfg.get("num_key_value_heads") or H, d_head=dh,
                    d_mlp=_need(cfg, "intermediate_size"), d_vocab=_need(cfg, "vocab_size"),
                    n_ctx=cfg.get("max_position_embeddings", 2048), norm="RMS",
                    eps=cfg.get("rms_norm_eps", 1e-6), act=cfg.get("hidden_act", "silu"), gated=True,
                    pos="rotary", rotary_dim=dh, rotary_base=float(cfg.get("rope_theta", 10000.0)),
                    qkv_bias=bias, o_bias=bias if mt == "llama" else False,
                    mlp_bias=bool(cfg.get("mlp_bias", False)),
                    tied=bool(cfg.get("tie_word_embeddings", False)))
    if mt == "gpt_neox":
        D = _need(cfg, "hidden_size")
        H = _need(cfg, "num_attention_heads")
        dh = D // H
        pct = cfg.get("rotary_pct", cfg.get("partial_rotary_factor", 0.25))
        bias = bool(cfg.get("attention_bias", True))
        return Spec(family="gpt_neox", n_layers=_need(cfg, "num_hidden_layers"), d_model=D, n_heads=H,
                    n_kv_heads=H, d_head=dh, d_mlp=_need(cfg, "intermediate_size"),
                    d_vocab=_need(cfg, "vocab_size"), n_ctx=cfg.get("max_position_embeddings", 2048),
                    norm="LN", eps=cfg.get("layer_norm_eps", 1e-5), act=cfg.get("hidden_act", "gelu"),
                    pos="rotary", rotary_dim=int(dh * pct),
                    rotary_base=float(cfg.get("rotary_emb_base", cfg.get("rope_theta", 10000.0))),
                    parallel=bool(cfg.get("use_parallel_residual", True)), qkv_bias=bias, o_bias=bias,
                    tied=bool(cfg.get("tie_word_embeddings", False)))
    raise CheckpointError(f"config.json: unsupported model_type {mt!r} (supported: gpt2, llama, qwen2, gpt_neox, "
                          "or a TransformerLens config with n_layers, d_model, d_head, n_heads, act_fn)")


def _tl_spec(cfg):
    # HookedTransformerConfig defaults: a missing normalization_type is "LN" (an explicit null is none).
    norm = cfg.get("normalization_type", "LN") or "None"
    if norm not in ("LN", "LNPre", "RMS", "None"):
        raise CheckpointError(f"config.json: normalization_type {norm!r} not in LN, LNPre, RMS, None")
    pos = cfg.get("positional_embedding_type", "standard")
    if pos not in ("standard", "rotary"):
        raise CheckpointError(f"config.json: positional_embedding_type {pos!r} not in standard, rotary")
    H, dh = cfg["n_heads"], cfg["d_head"]
    attn_only = bool(cfg.get("attn_only", False))
    # TL's sentinels: attn_scale -1 means sqrt(d_head), d_mlp None means 4 * d_model (unless attn_only),
    # rotary_dim None means d_head for a rotary model.
    scale = cfg.get("attn_scale")
    scale = (scale if scale and scale > 0 else math.sqrt(dh)) if cfg.get("use_attn_scale", True) else 1.0
    d_mlp = cfg.get("d_mlp") or (0 if attn_only else 4 * cfg["d_model"])
    rotary_dim = cfg.get("rotary_dim") or (dh if pos == "rotary" else 0)
    return Spec(family="transformer_lens", n_layers=cfg["n_layers"], d_model=cfg["d_model"], n_heads=H,
                n_kv_heads=cfg.get("n_key_value_heads") or H, d_head=dh, d_mlp=d_mlp,
                d_vocab=_need(cfg, "d_vocab"), n_ctx=_need(cfg, "n_ctx"), norm=norm, eps=cfg.get("eps", 1e-5),
                act=cfg["act_fn"], gated=bool(cfg.get("gated_mlp", False)), attn_only=attn_only,
                pos=pos, rotary_dim=rotary_dim, rotary_base=float(cfg.get("rotary_base", 10000)),
                parallel=bool(cfg.get("parallel_attn_mlp", False)), unembed_bias=True, attn_scale=scale)


def config_from_spec(s: Spec, extra=None):
    """The config.json a Hugging Face / TransformerLens loader would accept for this spec."""
    extra = extra or {}
    if s.family == "gpt2":
        cfg = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_embd": s.d_model, "n_head": s.n_heads,
               "n_layer": s.n_layers, "n_inner": s.d_mlp, "n_positions": s.n_ctx, "n_ctx": s.n_ctx,
               "vocab_size": s.d_vocab, "activation_function": s.act, "layer_norm_epsilon": s.eps,
               "tie_word_embeddings": s.tied}
    elif s.family in ("llama", "qwen2"):
        cfg = {"model_type": s.family, "architectures": ["LlamaForCausalLM" if s.family == "llama" else "Qwen2ForCausalLM"],
               "hidden_size": s.d_model, "intermediate_size": s.d_mlp, "num_attention_heads": s.n_heads,
               "num_key_value_heads": s.n_kv_heads, "num_hidden_layers": s.n_layers, "head_dim": s.d_head,
               "rms_norm_eps": s.eps, "rope_theta": s.rotary_base, "max_position_embeddings": s.n_ctx,
               "vocab_size": s.d_vocab, "hidden_act": s.act, "tie_word_embeddings": s.tied}
        if s.family == "llama":
            cfg.update(attention_bias=s.qkv_bias, mlp_bias=s.mlp_bias)
    elif s.family == "gpt_neox":
        cfg = {"model_type": "gpt_neox", "architectures": ["GPTNeoXForCausalLM"], "hidden_size": s.d_model,
               "intermediate_size": s.d_mlp, "num_attention_heads": s.n_heads, "num_hidden_layers": s.n_layers,
               "rotary_pct": s.rotary_dim / s.d_head, "rotary_emb_base": s.rotary_base,
               "max_position_embeddings": s.n_ctx, "layer_norm_eps": s.eps, "vocab_size": s.d_vocab,
               "hidden_act": s.act, "use_parallel_residual": s.parallel, "tie_word_embeddings": s.tied,
               "attention_bias": s.qkv_bias}
    else:
        cfg = {"n_layers": s.n_layers, "d_model": s.d_model, "d_head": s.d_head, "n_heads": s.n_heads,
               "n_key_value_heads": s.n_kv_heads if s.n_kv_heads != s.n_heads else None,
               "d_mlp": s.d_mlp if not s.attn_only else None, "d_vocab": s.d_vocab, "d_vocab_out": s.d_vocab,
               "n_ctx": s.n_ctx, "act_fn": s.act, "normalization_type": None if s.norm == "None" else s.norm,
               "attn_only": s.attn_only, "positional_embedding_type": s.pos, "rotary_dim": s.rotary_dim or None,
               "rotary_base": s.rotary_base, "eps": s.eps, "gated_mlp": s.gated,
               "parallel_attn_mlp": s.parallel, "use_attn_scale": True, "attn_scale": s.scale()}
    cfg.update({"torch_dtype": "float32"} if "model_type" in cfg else {})
    cfg.update(extra)
    return cfg


# -- weights ------------------------------------------------------------------------------------
def _heads_in(W, H):      # nn.Linear weight [H*dh, D] -> [H, D, dh]
    return W.reshape(H, -1, W.shape[1]).permute(0, 2, 1).contiguous()


def _heads_out(W, H):     # [H, D, dh] -> nn.Linear weight [H*dh, D]
    return W.permute(0, 2, 1).reshape(-1, W.shape[1]).contiguous()


def to_checkpoint(s: Spec, w):
    """canonical weights -> state dict with the family's own names and layouts."""
    H, K, D = s.n_heads, s.n_kv_heads, s.d_model
    out = {}
    if s.family == "gpt2":
        P = "transformer."
        out[P + "wte.weight"] = w["W_E"]
        out[P + "wpe.weight"] = w["W_pos"]
        for l in range(s.n_layers):
            p, c = f"blocks.{l}.", f"{P}h.{l}."
            out[c + "ln_1.weight"], out[c + "ln_1.bias"] = w[p + "ln1.w"], w[p + "ln1.b"]
            out[c + "ln_2.weight"], out[c + "ln_2.bias"] = w[p + "ln2.w"], w[p + "ln2.b"]
            # Conv1D stores [in, out]: q|k|v column blocks, each head a run of dh columns.
            out[c + "attn.c_attn.weight"] = torch.cat([w[p + n].permute(1, 0, 2).reshape(D, -1) for n in ("W_Q", "W_K", "W_V")], 1)
            out[c + "attn.c_attn.bias"] = torch.cat([w[p + n].reshape(-1) for n in ("b_Q", "b_K", "b_V")])
            out[c + "attn.c_proj.weight"] = w[p + "W_O"].reshape(-1, D)
            out[c + "attn.c_proj.bias"] = w[p + "b_O"]
            out[c + "mlp.c_fc.weight"], out[c + "mlp.c_fc.bias"] = w[p + "W_in"], w[p + "b_in"]
            out[c + "mlp.c_proj.weight"], out[c + "mlp.c_proj.bias"] = w[p + "W_out"], w[p + "b_out"]
        out[P + "ln_f.weight"], out[P + "ln_f.bias"] = w["ln_final.w"], w["ln_final.b"]
        if not s.tied:
            out["lm_head.weight"] = w["W_U"].t()
    elif s.family in ("llama", "qwen2"):
        out["model.embed_tokens.weight"] = w["W_E"]
        for l in range(s.n_layers):
            p, c = f"blocks.{l}.", f"model.layers.{l}."
            out[c + "input_layernorm.weight"] = w[p + "ln1.w"]
            out[c + "post_attention_layernorm.weight"] = w[p + "ln2.w"]
            for n, hn, heads in (("q", "Q", H), ("k", "K", K), ("v", "V", K)):
                out[c + f"self_attn.{n}_proj.weight"] = _heads_out(w[p + "W_" + hn], heads)
                if s.qkv_bias:
                    out[c + f"self_attn.{n}_proj.bias"] = w[p + "b_" + hn].reshape(-1)
            out[c + "self_attn.o_proj.weight"] = w[p + "W_O"].reshape(-1, D).t()
            if s.o_bias:
                out[c + "self_attn.o_proj.bias"] = w[p + "b_O"]
            out[c + "mlp.gate_proj.weight"] = w[p + "W_gate"].t()
            out[c + "mlp.up_proj.weight"] = w[p + "W_in"].t()
            out[c + "mlp.down_proj.weight"] = w[p + "W_out"].t()
            if s.mlp_bias:
                out[c + "mlp.up_proj.bias"], out[c + "mlp.down_proj.bias"] = w[p + "b_in"], w[p + "b_out"]
        out["model.norm.weight"] = w["ln_final.w"]
        if not s.tied:
            out["lm_head.weight"] = w["W_U"].t()
    elif s.family == "gpt_neox":
        P = "gpt_neox."
        out[P + "embed_in.weight"] = w["W_E"]
        for l in range(s.n_layers):
            p, c = f"blocks.{l}.", f"{P}layers.{l}."
            out[c + "input_layernorm.weight"], out[c + "input_layernorm.bias"] = w[p + "ln1.w"], w[p + "ln1.b"]
            out[c + "post_attention_layernorm.weight"], out[c + "post_attention_layernorm.bias"] = w[p + "ln2.w"], w[p + "ln2.b"]
            # rows are interleaved per head: [H, (q|k|v), dh]
            qkv = torch.stack([w[p + n].permute(0, 2, 1) for n in ("W_Q", "W_K", "W_V")], 1)  # [H, 3, dh, D]
            out[c + "attention.query_key_value.weight"] = qkv.reshape(-1, D)
            if s.qkv_bias:
                out[c + "attention.query_key_value.bias"] = torch.stack([w[p + n] for n in ("b_Q", "b_K", "b_V")], 1).reshape(-1)
            out[c + "attention.dense.weight"] = w[p + "W_O"].reshape(-1, D).t()
            if s.o_bias:
                out[c + "attention.dense.bias"] = w[p + "b_O"]
            out[c + "mlp.dense_h_to_4h.weight"], out[c + "mlp.dense_h_to_4h.bias"] = w[p + "W_in"].t(), w[p + "b_in"]
            out[c + "mlp.dense_4h_to_h.weight"], out[c + "mlp.dense_4h_to_h.bias"] = w[p + "W_out"].t(), w[p + "b_out"]
        out[P + "final_layer_norm.weight"], out[P + "final_layer_norm.bias"] = w["ln_final.w"], w["ln_final.b"]
        if not s.tied:
            out["embed_out.weight"] = w["W_U"].t()
    else:  # TransformerLens: canonical names are TL's own, with embed/unembed prefixes
        for k, v in w.items():
            out[_tl_name(k)] = v
    return {k: v.contiguous() for k, v in out.items()}


_TL_NAMES = {"W_E": "embed.W_E", "W_pos": "pos_embed.W_pos", "W_U": "unembed.W_U", "b_U": "unembed.b_U"}


def _tl_name(k):
    if k in _TL_NAMES:
        return _TL_NAMES[k]
    if not k.startswith("blocks."):
        return k  # ln_final.w / ln_final.b
    _, l, rest = k.split(".", 2)
    if rest.startswith("ln"):
        return k
    module = "attn" if rest[2] in "QKVO" else "mlp"
    return f"blocks.{l}.{module}.{rest}"


def from_checkpoint(s: Spec, sd):
    """state dict with the family's names -> canonical weights (checks every name it needs)."""
    H, K, D = s.n_heads, s.n_kv_heads, s.d_model

    def get(name):
        if name in sd:
            return sd[name]
        raise CheckpointError(f"model.safetensors: missing tensor '{name}'")

    w = {}
    if s.family == "gpt2":
        P = "transformer." if any(k.startswith("transformer.") for k in sd) else ""
        w["W_E"], w["W_pos"] = get(P + "wte.weight"), get(P + "wpe.weight")
        for l in range(s.n_layers):
            p, c = f"blocks.{l}.", f"{P}h.{l}."
            w[p + "ln1.w"], w[p + "ln1.b"] = get(c + "ln_1.weight"), get(c + "ln_1.bias")
            w[p + "ln2.w"], w[p + "ln2.b"] = get(c + "ln_2.weight"), get(c + "ln_2.bias")
            qkv, b = get(c + "attn.c_attn.weight"), get(c + "attn.c_attn.bias")
            for i, n in enumerate("QKV"):
                w[p + "W_" + n] = qkv[:, i * D:(i + 1) * D].reshape(D, H, -1).permute(1, 0, 2)
                w[p + "b_" + n] = b[i * D:(i + 1) * D].reshape(H, -1)
            w[p + "W_O"] = get(c + "attn.c_proj.weight").reshape(H, -1, D)
            w[p + "b_O"] = get(c + "attn.c_proj.bias")
            w[p + "W_in"], w[p + "b_in"] = get(c + "mlp.c_fc.weight"), get(c + "mlp.c_fc.bias")
            w[p + "W_out"], w[p + "b_out"] = get(c + "mlp.c_proj.weight"), get(c + "mlp.c_proj.bias")
        w["ln_final.w"], w["ln_final.b"] = get(P + "ln_f.weight"), get(P + "ln_f.bias")
        if not s.tied:
            w["W_U"] = get("lm_head.weight").t()
    elif s.family in ("llama", "qwen2"):
        w["W_E"] = get("model.embed_tokens.weight")
        for l in range(s.n_layers):
            p, c = f"blocks.{l}.", f"model.layers.{l}."
            w[p + "ln1.w"] = get(c + "input_layernorm.weight")
            w[p + "ln2.w"] = get(c + "post_attention_layernorm.weight")
            for n, hn, heads in (("q", "Q", H), ("k", "K", K), ("v", "V", K)):
                w[p + "W_" + hn] = _heads_in(get(c + f"self_attn.{n}_proj.weight"), heads)
                if s.qkv_bias:
                    w[p + "b_" + hn] = get(c + f"self_attn.{n}_proj.bias").reshape(heads, -1)
            w[p + "W_O"] = get(c + "self_attn.o_proj.weight").t().reshape(H, -1, D)
            if s.o_bias:
                w[p + "b_O"] = get(c + "self_attn.o_proj.bias")
            w[p + "W_gate"] = get(c + "mlp.gate_proj.weight").t()
            w[p + "W_in"] = get(c + "mlp.up_proj.weight").t()
            w[p + "W_out"] = get(c + "mlp.down_proj.weight").t()
            if s.mlp_bias:
                w[p + "b_in"], w[p + "b_out"] = get(c + "mlp.up_proj.bias"), get(c + "mlp.down_proj.bias")
        w["ln_final.w"] = get("model.norm.weight")
        if not s.tied:
            w["W_U"] = get("lm_head.weight").t()
    elif s.family == "gpt_neox":
        P = "gpt_neox."
        w["W_E"] = get(P + "embed_in.weight")
        for l in range(s.n_layers):
            p, c = f"blocks.{l}.", f"{P}layers.{l}."
            w[p + "ln1.w"], w[p + "ln1.b"] = get(c + "input_layernorm.weight"), get(c + "input_layernorm.bias")
            w[p + "ln2.w"], w[p + "ln2.b"] = get(c + "post_attention_layernorm.weight"), get(c + "post_attention_layernorm.bias")
            qkv = get(c + "attention.query_key_value.weight").reshape(H, 3, -1, D)
            for i, n in enumerate("QKV"):
                w[p + "W_" + n] = qkv[:, i].permute(0, 2, 1)
            if s.qkv_bias:
                b = get(c + "attention.query_key_value.bias").reshape(H, 3, -1)
                for i, n in enumerate("QKV"):
                    w[p + "b_" + n] = b[:, i]
            w[p + "W_O"] = get(c + "attention.dense.weight").t().reshape(H, -1, D)
            if s.o_bias:
                w[p + "b_O"] = get(c + "attention.dense.bias")
            w[p + "W_in"], w[p + "b_in"] = get(c + "mlp.dense_h_to_4h.weight").t(), get(c + "mlp.dense_h_to_4h.bias")
            w[p + "W_out"], w[p + "b_out"] = get(c + "mlp.dense_4h_to_h.weight").t(), get(c + "mlp.dense_4h_to_h.bias")
        w["ln_final.w"], w["ln_final.b"] = get(P + "final_layer_norm.weight"), get(P + "final_layer_norm.bias")
        if not s.tied:
            w["W_U"] = get("embed_out.weight").t()
    else:
        for name in canonical_shapes(s):
            tl = _tl_name(name)
            if tl not in sd and tl.endswith(("W_K", "W_V", "b_K", "b_V")):
                tl = tl.rsplit(".", 1)[0] + "._" + tl.rsplit(".", 1)[1]  # TL's GQA names: attn._W_K
            w[name] = get(tl)
    expected = canonical_shapes(s)
    for name, t in w.items():
        if tuple(t.shape) != tuple(expected[name]):
            raise CheckpointError(f"model.safetensors: tensor for {name} has shape {tuple(t.shape)}, expected {expected[name]}")
    return {k: v.contiguous() for k, v in w.items()}


# -- folders ------------------------------------------------------------------------------------
def load_state_dict(folder):
    single = os.path.join(folder, "model.safetensors")
    if os.path.exists(single):
        return safetensors_io.load(single)
    index = os.path.join(folder, "model.safetensors.index.json")
    if not os.path.exists(index):
        raise CheckpointError(f"{folder}: neither model.safetensors nor model.safetensors.index.json")
    with open(index) as f:
        weight_map = json.load(f)["weight_map"]
    sd = {}
    for shard in sorted(set(weight_map.values())):
        sd.update(safetensors_io.load(os.path.join(folder, shard)))
    return sd


def load_folder(folder):
    """folder -> (spec, Reference model, config dict)."""
    with open(os.path.join(folder, "config.json")) as f:
        cfg = json.load(f)
    spec = spec_from_config(cfg)
    model = Reference(spec, from_checkpoint(spec, load_state_dict(folder)))
    model.eval()
    return spec, model, cfg


def save_folder(folder, spec, weights, dtype=torch.float32, shards=1, extra_config=None):
    """Write config.json and model.safetensors (or an index plus `shards` shard files)."""
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config_from_spec(spec, extra_config), f, indent=2)
    save_state_dict(folder, to_checkpoint(spec, weights), dtype, shards)


def save_state_dict(folder, sd, dtype=torch.float32, shards=1):
    """Write a state dict as model.safetensors, or as `shards` files model-0000i-of-0000n plus the index."""
    meta = {"format": "pt"}
    if shards == 1:
        safetensors_io.save(sd, os.path.join(folder, "model.safetensors"), meta, dtype)
        return
    names = sorted(sd)
    per = math.ceil(len(names) / shards)
    weight_map, total = {}, 0
    for i in range(shards):
        part = names[i * per:(i + 1) * per]
        fname = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
        safetensors_io.save({n: sd[n] for n in part}, os.path.join(folder, fname), meta, dtype)
        for n in part:
            weight_map[n] = fname
            total += sd[n].numel() * (2 if dtype in (torch.float16, torch.bfloat16) else 4)
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
