"""Golden fixtures for the TypeScript engine's parity tests.

    /usr/bin/python3 models/train/make_fixtures.py        # -> test/fixtures/

For every shipped model and for tiny random-weight models of every family and option, writes
test/fixtures/<name>.json (manifest) and test/fixtures/<name>.safetensors (tensors):
  capture.<i>.logits [T, V], capture.<i>.<hook> (batch dimension dropped) for prompt i;
  iv.<method>.{tokens, head_mask, head_repl, mlp_mask, mlp_repl, logits}: one intervention batch,
      one component per row (zero, mean, resample, patch, patch_pos, path);
  scan.<method>.heads.<metric> [L, H] and scan.<method>.mlps.<metric> [L]: full scan scores.
Tiny model folders go to test/fixtures/models/<name>/.
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checkpoints  # noqa: E402
import experiments as ex  # noqa: E402
import safetensors_io  # noqa: E402
import tokenizer as tok  # noqa: E402
from reference import Spec, all_hook_names, init_weights  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "test", "fixtures")
V = len(tok.VOCAB)


def tiny(family, **kw):
    base = dict(n_layers=2, d_model=16, n_heads=4, n_kv_heads=4, d_head=4, d_mlp=32, d_vocab=V, n_ctx=16)
    fam = {
        "gpt2": dict(norm="LN", act="gelu_new", tied=True),
        "llama": dict(norm="RMS", eps=1e-6, act="silu", gated=True, pos="rotary", rotary_dim=4, qkv_bias=False,
                      o_bias=False, mlp_bias=False, rotary_base=10000.0),
        "qwen2": dict(norm="RMS", eps=1e-6, act="silu", gated=True, pos="rotary", rotary_dim=4, o_bias=False,
                      mlp_bias=False, rotary_base=1000000.0),
        "gpt_neox": dict(norm="LN", act="gelu", pos="rotary", rotary_dim=2, parallel=True),
        "transformer_lens": dict(unembed_bias=True),
    }[family]
    return Spec(family=family, **{**base, **fam, **kw})


# name -> (spec, save options). Each covers one family or option the engine must support.
TINY = {
    "tiny-gpt2": (tiny("gpt2"), {}),
    "tiny-gpt2-untied-relu": (tiny("gpt2", tied=False, act="relu"), {}),
    "tiny-llama-gqa": (tiny("llama", n_kv_heads=2, tied=True), {}),
    "tiny-llama-untied-sharded": (tiny("llama", n_kv_heads=1, tied=False), {"shards": 3}),
    "tiny-llama-f16": (tiny("llama", tied=False, d_head=8, rotary_dim=8, n_heads=2, n_kv_heads=2), {"dtype": torch.float16}),
    "tiny-qwen2-bf16-sharded": (tiny("qwen2", n_kv_heads=2, tied=True), {"dtype": torch.bfloat16, "shards": 2}),
    "tiny-neox-parallel": (tiny("gpt_neox", d_head=8, n_heads=2, n_kv_heads=2, rotary_dim=4), {}),
    "tiny-neox-sequential": (tiny("gpt_neox", parallel=False, rotary_dim=2), {}),
    "tl-ln-gelu-standard": (tiny("transformer_lens", norm="LN", act="gelu"), {}),
    "tl-lnpre-attn-only": (tiny("transformer_lens", norm="LNPre", act="relu", attn_only=True, d_mlp=0), {}),
    "tl-rms-silu-rotary": (tiny("transformer_lens", norm="RMS", act="silu", pos="rotary", rotary_dim=4), {}),
    "tl-none-relu-standard": (tiny("transformer_lens", norm="None", act="relu"), {}),
    "tl-ln-gelu_new-rotary-parallel": (tiny("transformer_lens", norm="LN", act="gelu_new", pos="rotary", rotary_dim=2,
                                            parallel=True), {}),
}

# Prompts of one token length with counterfactuals, for tiny models (shipped models use heldout.jsonl).
TINY_PROMPTS = [
    {"prompt": "12+34=", "answer": "46", "counterfactual": {"prompt": "12+74=", "answer": "86"}},
    {"prompt": "57+21=", "answer": "78", "counterfactual": {"prompt": "37+21=", "answer": "58"}},
    {"prompt": "40+45=", "answer": "85", "counterfactual": {"prompt": "40+15=", "answer": "55"}},
    {"prompt": "63+11=", "answer": "74", "counterfactual": {"prompt": "23+11=", "answer": "34"}},
]


def shipped_prompts(name, n=6):
    """n held-out records of the most common sequence length (so they batch without padding)."""
    with open(os.path.join(ROOT, "models", name, "heldout.jsonl")) as f:
        recs = [json.loads(line) for line in f]
    lengths = [len(tok.encode(r["prompt"])) + len(tok.encode(r["answer"], False)) for r in recs]
    common = max(set(lengths), key=lengths.count)
    picked = [r for r, L in zip(recs, lengths) if L == common and
              len(tok.encode(r["counterfactual"]["answer"], False)) == len(tok.encode(r["answer"], False))]
    return picked[:n]


def fixture(name, folder, records, rel_folder):
    spec, model, _ = checkpoints.load_folder(folder)
    data = ex.encode_set(records)
    tensors = {}
    hooks = all_hook_names(spec)
    # Captures: prompt 0 with every hook, the others with a representative few.
    few = ["logits", f"blocks.{spec.n_layers - 1}.hook_resid_post", "blocks.0.attn.hook_pattern", "blocks.0.attn.hook_z"]
    captures = []
    for i, r in enumerate(records):
        ids = torch.tensor([tok.encode(r["prompt"])])
        wanted = hooks if i == 0 else few
        logits, cache = model(ids, hooks=wanted)
        for h in wanted:
            tensors[f"capture.{i}.{h}"] = (logits if h == "logits" else cache[h])[0]
        captures.append({"prompt": i, "hooks": wanted})

    # One intervention batch per method: one row per head (first prompt, or all prompts for patch rows).
    clean, corrupt = data["clean"], data["corrupt"]
    T = clean.shape[1]
    rows = ex.head_rows(spec)
    R = len(rows)
    z = ex.z_of(model, clean)
    zx = ex.z_of(model, corrupt)
    perm = ex.resample_perm(len(records), seed=0)
    batches = {}

    def add_batch(method, tokens, head_mask=None, head_repl=None, mlp_mask=None, mlp_repl=None):
        iv = {}
        if head_mask is not None:
            iv.update(head_mask=head_mask, head_repl=head_repl)
        if mlp_mask is not None:
            iv.update(mlp_mask=mlp_mask, mlp_repl=mlp_repl)
        logits, _ = model(tokens, interventions=iv)
        tensors[f"iv.{method}.tokens"] = tokens
        tensors[f"iv.{method}.logits"] = logits
        for k, v in iv.items():
            tensors[f"iv.{method}.{k}"] = v
        batches[method] = sorted(iv)

    first = clean[:1].expand(R, -1)
    m, r = ex.head_batch(spec, T, lambda i, l, h: 0.0, rows)
    if spec.attn_only:
        add_batch("zero", first, m, r)
    else:  # zero batch also ablates each MLP layer in extra rows (mask [B, L])
        L = spec.n_layers
        hm = torch.cat([m, torch.ones(L, L, spec.n_heads)])
        hr = torch.cat([r, torch.zeros(L, L, spec.n_heads, T, spec.d_head)])
        mm = torch.cat([torch.ones(R, L), 1 - torch.eye(L)])
        add_batch("zero", clean[:1].expand(R + L, -1), hm, hr, mm, torch.zeros(R + L, L, T, spec.d_mlp))
    m, r = ex.head_batch(spec, T, lambda i, l, h: ex.mean_z(z)[l, h], rows)
    if spec.attn_only:
        add_batch("mean", first, m, r)
    else:  # and per-neuron MLP masks [B, L, M]: every row also mean-ablates the first half of layer 0's neurons
        post = ex.post_of(model, clean)
        mm = torch.ones(R, spec.n_layers, spec.d_mlp)
        mm[:, 0, : spec.d_mlp // 2] = 0
        add_batch("mean", first, m, r, mm, post.mean(0)[None].expand(R, -1, -1, -1))
    m, r = ex.head_batch(spec, T, lambda i, l, h: z[perm[0], l, h], rows)
    add_batch("resample", first, m, r)
    m, r = ex.head_batch(spec, T, lambda i, l, h: z[0, l, h], rows)
    add_batch("patch", corrupt[:1].expand(R, -1), m, r)
    pm = torch.ones(T, spec.n_layers, spec.n_heads, T)
    for t in range(T):
        pm[t, 0, 0, t] = 0  # row t restores head (0, 0) at position t only
    add_batch("patch_pos", corrupt[:1].expand(T, -1), pm, z[:1].expand(T, -1, -1, -1, -1))
    pr = z[:1].repeat(R, 1, 1, 1, 1)
    for i, (l, h) in enumerate(rows):
        pr[i, l, h] = zx[0, l, h]
    add_batch("path", first, torch.zeros(R, spec.n_layers, spec.n_heads), pr)

    # Full scans over the fixture prompt set.
    scans = {}
    for method in ("zero", "mean", "resample"):
        res = ex.ablation_scan(model, data, method, perm)
        scans[method] = {"clean": {k: float(v) for k, v in res["clean"].items()}}
        for k, v in res["heads"].items():
            tensors[f"scan.{method}.heads.{k}"] = v
        for k, v in res["mlps"].items():
            tensors[f"scan.{method}.mlps.{k}"] = v
    res = ex.patch_scan(model, data)
    scans["patch"] = {"clean": {k: float(v) for k, v in res["clean"].items()},
                      "corrupt": {k: float(v) for k, v in res["corrupt"].items()}}
    for k, v in res["heads"].items():
        tensors[f"scan.patch.heads.{k}"] = v
    res = ex.path_patch_scan(model, data)
    tensors["scan.path.heads.answer_logit_rel"] = res["heads"]["answer_logit_rel"]
    scans["path"] = {}

    safetensors_io.save({k: v.contiguous() for k, v in tensors.items()}, os.path.join(OUT, f"{name}.safetensors"),
                        dtype=torch.float32)
    manifest = {
        "name": name, "model": rel_folder, "spec": spec.to_dict(), "tolerance": 1e-4,
        "prompts": records, "tokens": [tok.encode(r["prompt"]) for r in records],
        "answer_tokens": data["answers"], "captures": captures, "hooks": hooks,
        "interventions": {k: {"inputs": v, "description": DESCRIPTIONS[k]} for k, v in batches.items()},
        "rows": [list(x) for x in rows], "resample_perm": perm, "scans": scans,
        "note": "Computed in float64, stored as float32. Hooks hold the value that flowed downstream (after interventions); masked attention scores are -inf.",
    }
    with open(os.path.join(OUT, f"{name}.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print(f"{name}: {len(tensors)} tensors", flush=True)


DESCRIPTIONS = {
    "zero": "prompt 0 repeated; row i zero-ablates head rows[i]; extra rows zero-ablate MLP layer l (mask [B,L])",
    "mean": "prompt 0 repeated; row i mean-ablates head rows[i]; every row also mean-ablates neurons [0, M/2) of MLP 0 (mask [B,L,M])",
    "resample": "prompt 0 repeated; row i replaces head rows[i] by its z on prompt resample_perm[0]",
    "patch": "counterfactual 0 repeated; row i restores head rows[i] to its clean z (all positions)",
    "patch_pos": "counterfactual 0 repeated; row t restores head (0,0) at position t only (mask [B,L,H,T])",
    "path": "prompt 0 repeated; all heads frozen at clean z, row i's sender rows[i] takes its counterfactual z",
}


def main():
    # The oracle computes in float64 from the checkpoint's (float32-exact) weights and stores float32:
    # the engine's float32 results are then compared with the exact values, not with another float32
    # rounding path (trained models have logits of magnitude ~30, where two float32 paths differ ~1e-4).
    torch.set_default_dtype(torch.float64)
    torch.manual_seed(0)
    os.makedirs(os.path.join(OUT, "models"), exist_ok=True)
    only = set(sys.argv[1:])
    for i, (name, (spec, opts)) in enumerate(TINY.items()):
        if only and name not in only:
            continue
        folder = os.path.join(OUT, "models", name)
        weights = init_weights(spec, torch.Generator().manual_seed(100 + i), std=0.3)
        checkpoints.save_folder(folder, spec, weights, dtype=opts.get("dtype", torch.float32),
                                shards=opts.get("shards", 1),
                                extra_config={} if spec.family == "transformer_lens" else
                                {"bos_token_id": tok.BOS, "eos_token_id": tok.EOS})
        tok.write(folder, spec.n_ctx)
        fixture(name, folder, TINY_PROMPTS, f"test/fixtures/models/{name}")
    for name in ("add-3d", "mul-2d", "add-3d-llama"):
        if (only and name not in only) or not os.path.exists(os.path.join(ROOT, "models", name, "config.json")):
            continue
        fixture(name, os.path.join(ROOT, "models", name), shipped_prompts(name), f"models/{name}")


if __name__ == "__main__":
    main()
