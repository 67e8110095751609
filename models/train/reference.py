"""PyTorch reference forward for every family arithlens supports, with the hook points of
DESIGN.md §3 and the interventions of §4. It is the model we train and the oracle every parity test
of the TypeScript engine compares against.

All families are normalised to one canonical, TransformerLens-shaped parameter set (Spec + weights);
checkpoint name maps (checkpoints.py) translate Hugging Face and TransformerLens state dicts to it.

Forward of one block, as in the papers:
    x = x + attn(ln1(x)); x = x + mlp(ln2(x))          (sequential residual)
    x = x + attn(ln1(x)) + mlp(ln2(x))                   (parallel residual, GPT-NeoX)
Caches hold the value that flowed downstream, i.e. after any intervention at that hook.
"""
import math
from dataclasses import dataclass, field, asdict

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class Spec:
    """Architecture in canonical terms. Defaults describe a small GPT-2."""
    family: str = "gpt2"            # gpt2 | llama | qwen2 | gpt_neox | transformer_lens
    n_layers: int = 2
    d_model: int = 64
    n_heads: int = 4
    n_kv_heads: int = 4             # < n_heads: grouped-query attention (query head h reads kv head h // (H/Hkv))
    d_head: int = 16
    d_mlp: int = 256
    d_vocab: int = 21
    n_ctx: int = 32
    norm: str = "LN"                # LN | LNPre | RMS | None
    eps: float = 1e-5
    act: str = "gelu_new"           # relu | gelu (erf) | gelu_new (tanh) | silu
    gated: bool = False             # SwiGLU-style: post = act(x W_gate) * (x W_in)
    attn_only: bool = False
    pos: str = "standard"           # standard (learned absolute) | rotary | none
    rotary_dim: int = 0             # rotate the first rotary_dim dims of each head (rotate_half convention)
    rotary_base: float = 10000.0
    parallel: bool = False          # GPT-NeoX parallel residual
    qkv_bias: bool = True
    o_bias: bool = True
    mlp_bias: bool = True
    norm_bias: bool = True          # LN only
    unembed_bias: bool = False
    tied: bool = False              # unembedding is the embedding transposed
    attn_scale: float = 0.0         # 0 means sqrt(d_head)

    def scale(self):
        return self.attn_scale or math.sqrt(self.d_head)

    def to_dict(self):
        return asdict(self)


ACTS = {
    "relu": F.relu,
    "gelu": lambda x: F.gelu(x),
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
    "silu": F.silu,
}


def canonical_shapes(s: Spec):
    """name -> shape of every canonical parameter the spec has."""
    D, H, K, dh, M, V = s.d_model, s.n_heads, s.n_kv_heads, s.d_head, s.d_mlp, s.d_vocab
    shapes = {"W_E": (V, D)}
    if s.pos == "standard":
        shapes["W_pos"] = (s.n_ctx, D)
    norms = ["ln1"] + ([] if s.attn_only else ["ln2"])
    for l in range(s.n_layers):
        p = f"blocks.{l}."
        for n in norms:
            if s.norm in ("LN", "RMS"):
                shapes[p + n + ".w"] = (D,)
            if s.norm == "LN" and s.norm_bias:
                shapes[p + n + ".b"] = (D,)
        shapes.update({p + "W_Q": (H, D, dh), p + "W_K": (K, D, dh), p + "W_V": (K, D, dh),
                       p + "W_O": (H, dh, D)})
        if s.qkv_bias:
            shapes.update({p + "b_Q": (H, dh), p + "b_K": (K, dh), p + "b_V": (K, dh)})
        if s.o_bias:
            shapes[p + "b_O"] = (D,)
        if not s.attn_only:
            shapes[p + "W_in"] = (D, M)
            shapes[p + "W_out"] = (M, D)
            if s.gated:
                shapes[p + "W_gate"] = (D, M)
            if s.mlp_bias:
                shapes[p + "b_in"] = (M,)
                shapes[p + "b_out"] = (D,)
    if s.norm in ("LN", "RMS"):
        shapes["ln_final.w"] = (D,)
    if s.norm == "LN" and s.norm_bias:
        shapes["ln_final.b"] = (D,)
    if not s.tied:
        shapes["W_U"] = (D, V)
    if s.unembed_bias:
        shapes["b_U"] = (V,)
    return shapes


def init_weights(s: Spec, generator=None, std=0.02):
    """Random weights: N(0, std) matrices, unit norm weights, small random biases (so tests see them)."""
    w = {}
    for name, shape in canonical_shapes(s).items():
        leaf = name.split(".")[-1]
        if leaf == "w":
            w[name] = 1.0 + 0.1 * torch.randn(shape, generator=generator)
        elif leaf.startswith("b") or name.startswith("b_"):
            w[name] = 0.02 * torch.randn(shape, generator=generator)
        else:
            w[name] = std * torch.randn(shape, generator=generator)
    return w


def rotary_cos_sin(T, dim, base):
    """cos, sin [T, dim] for rotate_half RoPE (Llama / GPT-NeoX / TransformerLens default)."""
    inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.get_default_dtype()) / dim))
    freqs = torch.outer(torch.arange(T, dtype=torch.get_default_dtype()), inv_freq)  # [T, dim/2]
    emb = torch.cat([freqs, freqs], dim=-1)
    return emb.cos(), emb.sin()


def apply_rotary(x, dim, base):
    """x [B, T, H, dh]: rotate the first `dim` features of each head by its absolute position."""
    T = x.shape[1]
    cos, sin = rotary_cos_sin(T, dim, base)
    cos, sin = cos[None, :, None, :], sin[None, :, None, :]
    rot, rest = x[..., :dim], x[..., dim:]
    half = dim // 2
    rotated = torch.cat([-rot[..., half:], rot[..., :half]], dim=-1)  # rotate_half
    return torch.cat([rot * cos + rotated * sin, rest], dim=-1)


class Reference(nn.Module):
    """Canonical transformer. weights: {canonical name: tensor}; trainable as an nn.Module."""

    def __init__(self, spec: Spec, weights=None):
        super().__init__()
        self.spec = spec
        weights = weights if weights is not None else init_weights(spec)
        expected = canonical_shapes(spec)
        missing = set(expected) - set(weights)
        if missing:
            raise KeyError(f"missing canonical weights: {sorted(missing)}")
        self.params = nn.ParameterDict()
        for name, shape in expected.items():
            t = weights[name].to(torch.get_default_dtype())  # float64 when make_fixtures asks
            if tuple(t.shape) != tuple(shape):
                raise ValueError(f"{name}: shape {tuple(t.shape)} != expected {shape}")
            self.params[name.replace(".", "__")] = nn.Parameter(t.clone())

    def w(self, name):
        key = name.replace(".", "__")
        return self.params[key] if key in self.params else None

    def weights(self):
        return {k.replace("__", "."): v.detach().clone() for k, v in self.params.items()}

    # -- pieces -------------------------------------------------------------------------------
    def norm(self, x, prefix):
        s = self.spec
        if s.norm == "None":
            return x
        if s.norm == "RMS":
            x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + s.eps)
            return x * self.w(prefix + ".w")
        x = x - x.mean(-1, keepdim=True)
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + s.eps)
        if s.norm == "LNPre":
            return x
        x = x * self.w(prefix + ".w")
        b = self.w(prefix + ".b")
        return x + b if b is not None else x

    def forward(self, tokens, hooks=(), interventions=None, logits_at=None):
        """tokens [B, T] int64 -> (logits [B, T, V], cache {hook name: tensor}).

        hooks: hook names to cache. interventions: dict with optional keys
          head_mask [B,L,H] or [B,L,H,T] (1 keeps), head_repl [B,L,H,T,dh],
          mlp_mask [B,L] or [B,L,M], mlp_repl [B,L,T,M]; z' = m z + (1 - m) r.
        logits_at: [B, P] positions to unembed; logits are then [B, P, V]. Each position's logits depend
          on its own residual only, so the values are the same (to rounding); a scan reads a few positions of a
          vocabulary of up to ~150k.
        """
        s, hooks = self.spec, set(hooks)
        iv = interventions or {}
        cache = {}

        def hook(name, value):
            if name in hooks:
                cache[name] = value
            return value

        B, T = tokens.shape
        if T > s.n_ctx and s.pos == "standard":
            raise ValueError(f"sequence of {T} tokens exceeds n_ctx {s.n_ctx}")
        x = hook("hook_embed", self.w("W_E")[tokens])  # [B, T, D]
        if s.pos == "standard":
            x = x + hook("hook_pos_embed", self.w("W_pos")[:T][None].expand(B, T, -1))
        for l in range(s.n_layers):
            p = f"blocks.{l}."
            resid_pre = hook(p + "hook_resid_pre", x)
            attn_out = self.attention(l, self.norm(resid_pre, p + "ln1"), hook, iv)
            if s.attn_only:
                x = hook(p + "hook_resid_post", resid_pre + attn_out)
                continue
            if s.parallel:
                mlp_out = self.mlp(l, self.norm(resid_pre, p + "ln2"), hook, iv)
                x = hook(p + "hook_resid_post", resid_pre + attn_out + mlp_out)
            else:
                resid_mid = hook(p + "hook_resid_mid", resid_pre + attn_out)
                mlp_out = self.mlp(l, self.norm(resid_mid, p + "ln2"), hook, iv)
                x = hook(p + "hook_resid_post", resid_mid + mlp_out)
        x = hook("ln_final.hook_normalized", self.norm(x, "ln_final"))  # after weight and bias
        if logits_at is not None:
            x = x.gather(1, logits_at[..., None].expand(-1, -1, x.shape[-1]))  # [B, P, D]
        W_U = self.w("W_E").t() if s.tied else self.w("W_U")
        logits = x @ W_U
        if s.unembed_bias:
            logits = logits + self.w("b_U")
        return hook("logits", logits), cache

    def attention(self, l, h, hook, iv):
        s, p = self.spec, f"blocks.{l}."
        a = p + "attn."

        def proj(W, b):
            y = torch.einsum("btd,hde->bthe", h, self.w(p + W))
            bias = self.w(p + b) if s.qkv_bias else None
            return y + bias if bias is not None else y

        q = hook(a + "hook_q", proj("W_Q", "b_Q"))  # [B, T, H, dh]
        k = hook(a + "hook_k", proj("W_K", "b_K"))  # [B, T, Hkv, dh]
        v = hook(a + "hook_v", proj("W_V", "b_V"))  # [B, T, Hkv, dh]
        if s.pos == "rotary":
            q = apply_rotary(q, s.rotary_dim, s.rotary_base)
            k = apply_rotary(k, s.rotary_dim, s.rotary_base)
        group = s.n_heads // s.n_kv_heads
        k = k.repeat_interleave(group, dim=2)  # [B, T, H, dh]
        v = v.repeat_interleave(group, dim=2)
        T = h.shape[1]
        scores = torch.einsum("bqhe,bkhe->bhqk", q, k) / s.scale()
        causal = torch.ones(T, T, dtype=torch.bool).tril()
        scores = hook(a + "hook_attn_scores", scores.masked_fill(~causal, float("-inf")))
        pattern = hook(a + "hook_pattern", scores.softmax(-1))  # [B, H, T, T]
        z = torch.einsum("bhqk,bkhe->bqhe", pattern, v)  # [B, T, H, dh]
        hook(a + "hook_z_free", z)  # z before any intervention: what head -> head path patching records (residual.py); no §3 hook
        if "head_mask" in iv:
            m = iv["head_mask"][:, l]  # [B, H] or [B, H, T]
            m = m[:, None, :, None] if m.dim() == 2 else m.permute(0, 2, 1)[..., None]
            r = iv["head_repl"][:, l].permute(0, 2, 1, 3)  # [B, T, H, dh]
            z = m * z + (1 - m) * r
        z = hook(a + "hook_z", z)
        result = hook(a + "hook_result", torch.einsum("bqhe,hed->bqhd", z, self.w(p + "W_O")))
        out = result.sum(2)  # [B, T, D]
        if s.o_bias:
            out = out + self.w(p + "b_O")
        return hook(p + "hook_attn_out", out)

    def mlp(self, l, h, hook, iv):
        s, p = self.spec, f"blocks.{l}."
        act = ACTS[s.act]
        up = h @ self.w(p + "W_in")
        if s.mlp_bias:
            up = up + self.w(p + "b_in")
        if s.gated:
            gate = hook(p + "mlp.hook_pre", h @ self.w(p + "W_gate"))
            up = hook(p + "mlp.hook_pre_linear", up)
            post = act(gate) * up
        else:
            post = act(hook(p + "mlp.hook_pre", up))
        if "mlp_mask" in iv:
            m = iv["mlp_mask"][:, l]  # [B] or [B, M]
            m = m[:, None, None] if m.dim() == 1 else m[:, None, :]
            post = m * post + (1 - m) * iv["mlp_repl"][:, l]
        post = hook(p + "mlp.hook_post", post)
        out = post @ self.w(p + "W_out")
        if s.mlp_bias:
            out = out + self.w(p + "b_out")
        return hook(p + "hook_mlp_out", out)


def all_hook_names(s: Spec):
    """Every hook point the spec exposes, in forward order."""
    names = ["hook_embed"] + (["hook_pos_embed"] if s.pos == "standard" else [])
    for l in range(s.n_layers):
        p, a = f"blocks.{l}.", f"blocks.{l}.attn."
        names += [p + "hook_resid_pre", a + "hook_q", a + "hook_k", a + "hook_v", a + "hook_attn_scores",
                  a + "hook_pattern", a + "hook_z", a + "hook_result", p + "hook_attn_out"]
        if not s.parallel and not s.attn_only:
            names.append(p + "hook_resid_mid")
        if not s.attn_only:
            names.append(p + "mlp.hook_pre")
            if s.gated:
                names.append(p + "mlp.hook_pre_linear")
            names += [p + "mlp.hook_post", p + "hook_mlp_out"]
        names.append(p + "hook_resid_post")
    return names + ["ln_final.hook_normalized", "logits"]
