"""Golden fixture for the TypeScript head slices (src/lib/core/export/headSlices.ts), from the layouts
of checkpoints.to_checkpoint:

    /usr/bin/python3 models/train/make_plan_fixtures.py     # -> test/fixtures/head-slices.json

Every canonical weight is filled with distinct numbers (float64 arange), converted with
to_checkpoint, and for each head (l, h) we record, per checkpoint tensor, the runs [start, end) of
flat (row-major) indices whose values came from that head's own canonical parameters: W_Q[h], b_Q[h],
W_O[h] and its kv head's W_K[g], W_V[g], b_K[g], b_V[g] (g = h // (H / Hkv)). The GQA
TransformerLens case renames W_K / W_V / b_K / b_V to TransformerLens's _W_K… (which from_checkpoint
also accepts). total_params counts every checkpoint tensor.
"""
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checkpoints  # noqa: E402
from reference import Spec, canonical_shapes  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "test", "fixtures", "head-slices.json")

BASE = dict(n_layers=2, d_vocab=7, n_ctx=8)
RMS = dict(norm="RMS", act="silu", gated=True, pos="rotary", mlp_bias=False)
CASES = {
    "gpt2": Spec(family="gpt2", d_model=12, n_heads=3, n_kv_heads=3, d_head=4, d_mlp=16, tied=True, **BASE),
    "llama-gqa": Spec(family="llama", d_model=10, n_heads=4, n_kv_heads=2, d_head=3, d_mlp=8, rotary_dim=2,
                      qkv_bias=False, o_bias=False, **RMS, **BASE),
    "llama-bias-untied": Spec(family="llama", d_model=8, n_heads=2, n_kv_heads=2, d_head=4, d_mlp=8, rotary_dim=4,
                              qkv_bias=True, o_bias=True, **RMS, **BASE),
    "qwen2-mqa": Spec(family="qwen2", d_model=8, n_heads=4, n_kv_heads=1, d_head=2, d_mlp=8, rotary_dim=2,
                      qkv_bias=True, o_bias=False, tied=True, **RMS, **BASE),
    "gpt_neox": Spec(family="gpt_neox", d_model=12, n_heads=3, n_kv_heads=3, d_head=4, d_mlp=16, norm="LN",
                     act="gelu", pos="rotary", rotary_dim=2, parallel=True, **BASE),
    "transformer_lens": Spec(family="transformer_lens", d_model=8, n_heads=2, n_kv_heads=2, d_head=3, d_mlp=8,
                             unembed_bias=True, **BASE),
    "transformer_lens-gqa": Spec(family="transformer_lens", d_model=8, n_heads=4, n_kv_heads=2, d_head=3, d_mlp=8,
                                 norm="RMS", pos="rotary", rotary_dim=2, qkv_bias=False, unembed_bias=True, **BASE),
}


def distinct_weights(spec):
    w, offset = {}, 0
    for name, shape in canonical_shapes(spec).items():
        n = math.prod(shape)
        w[name] = torch.arange(offset, offset + n, dtype=torch.float64).reshape(shape)
        offset += n
    return w


def runs(mask):
    idx = mask.nonzero().flatten().tolist()
    out = []
    for i in idx:
        if out and out[-1][1] == i:
            out[-1][1] = i + 1
        else:
            out.append([i, i + 1])
    return out


def case(spec):
    w = distinct_weights(spec)
    sd = checkpoints.to_checkpoint(spec, w)
    if spec.family == "transformer_lens" and spec.n_kv_heads < spec.n_heads:
        sd = {k.replace("attn.W_K", "attn._W_K").replace("attn.W_V", "attn._W_V")
              .replace("attn.b_K", "attn._b_K").replace("attn.b_V", "attn._b_V"): v for k, v in sd.items()}
    group = spec.n_heads // spec.n_kv_heads
    heads, shapes = {}, {}
    for l in range(spec.n_layers):
        p = f"blocks.{l}."
        for h in range(spec.n_heads):
            g = h // group
            owned = [w[p + "W_Q"][h], w[p + "W_O"][h], w[p + "W_K"][g], w[p + "W_V"][g]]
            if spec.qkv_bias:
                owned += [w[p + "b_Q"][h], w[p + "b_K"][g], w[p + "b_V"][g]]
            values = torch.cat([t.flatten() for t in owned])
            found = {}
            for name, t in sd.items():
                r = runs(torch.isin(t.flatten(), values))
                if r:
                    found[name] = r
                    shapes[name] = list(t.shape)
            assert sum(e - s for rs in found.values() for s, e in rs) == values.numel(), (spec.family, l, h)
            heads[f"{l},{h}"] = found
    total = sum(t.numel() for t in sd.values())
    return {"spec": spec.to_dict(), "total_params": total, "shapes": shapes, "heads": heads}


def main():
    out = {"generator": "models/train/make_plan_fixtures.py", "cases": {k: case(s) for k, s in CASES.items()}}
    with open(OUT, "w") as f:
        json.dump(out, f, separators=(",", ":"))


if __name__ == "__main__":
    main()
