"""The baseline `npm run bench` measures our scan against: a mean-ablation scan of every head and MLP
layer done the TransformerLens way. One clean run caches every head's z and every MLP's hook_post and
takes their means per position over the prompts; then for each head (and each MLP layer) one full
forward over all prompts with that component replaced by its mean, logits at every position, and the
answer tokens' log-probabilities read from the full log-softmax. The forward is reference.py's (the
oracle of our engine's parity tests), on the same seeded random weights and token ids the TypeScript
bench uses (it writes them to the files named below), in float32 on 2 threads.

    python3 bench_tl_loop.py WEIGHTS.safetensors PROMPTS.json OUT.json [--threads 2] [--gemm-peak]

PROMPTS.json: {"spec": {...}, "prompts": [{"prompt": [ids], "answer": [ids]}], "mlps": true}, every
prompt of one length. OUT.json: {"heads": [L*H logprob drops], "mlps": [L], "clean_logprob",
"wall_s" (the scan: clean run + every ablated forward), "forwards", "gemm_gflops" (with --gemm-peak)}.
"""
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference import Reference, Spec  # noqa: E402
from safetensors_io import load  # noqa: E402


def answer_logprob(logits, n_prompt, answers):
    """Per-prompt sum over answer tokens of log p(answer token), from logits at every position [B, T, V]."""
    logp = logits.log_softmax(-1)
    A = answers.shape[1]
    at = torch.arange(n_prompt - 1, n_prompt - 1 + A)  # position t predicts token t + 1
    return logp[:, at].gather(2, answers[..., None])[..., 0].double().sum(1)  # [B]


def gemm_peak(threads, n=2048, repeats=5):
    """Best-of-`repeats` float32 GFLOP/s of an n x n x n matmul (2 FLOPs per multiply-add)."""
    a, b = torch.rand(n, n), torch.rand(n, n)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(repeats))
    return 2 * n ** 3 / best / 1e9


def _timed(f):
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


def main():
    args = sys.argv[1:]
    threads = int(args[args.index("--threads") + 1]) if "--threads" in args else 2
    torch.set_num_threads(threads)
    torch.set_grad_enabled(False)
    weights_path, prompts_path, out_path = args[:3]
    job = json.load(open(prompts_path))
    spec = Spec(**{k: v for k, v in job["spec"].items() if k in Spec.__dataclass_fields__})
    model = Reference(spec, load(weights_path)).eval()
    prompts = job["prompts"]
    n_prompt = len(prompts[0]["prompt"])
    tokens = torch.tensor([p["prompt"] + p["answer"] for p in prompts])
    answers = torch.tensor([p["answer"] for p in prompts])
    if any(len(p["prompt"]) != n_prompt or len(p["answer"]) != answers.shape[1] for p in prompts):
        raise ValueError("every prompt must have one length")
    B, T = tokens.shape
    L, H, dh, M = spec.n_layers, spec.n_heads, spec.d_head, spec.d_mlp
    do_mlps = job.get("mlps", True) and not spec.attn_only

    start = time.perf_counter()
    hooks = [f"blocks.{l}.attn.hook_z" for l in range(L)] + ([f"blocks.{l}.mlp.hook_post" for l in range(L)] if do_mlps else [])
    logits, cache = model(tokens, hooks=hooks)
    clean = answer_logprob(logits, n_prompt, answers)
    del logits
    # every prompt has every position, so the per-position mean is the mean over the batch
    mean_z = torch.stack([cache[f"blocks.{l}.attn.hook_z"].mean(0) for l in range(L)])  # [L, T, H, dh]
    mean_post = torch.stack([cache[f"blocks.{l}.mlp.hook_post"].mean(0) for l in range(L)]) if do_mlps else None  # [L, T, M]
    del cache
    forwards = 1

    def drop(interventions):
        logits, _ = model(tokens, interventions=interventions)
        return float((clean - answer_logprob(logits, n_prompt, answers)).mean())

    heads = []
    for l in range(L):
        for h in range(H):
            mask = torch.ones(B, L, H)
            mask[:, l, h] = 0
            repl = torch.zeros(B, L, H, T, dh)
            repl[:, l, h] = mean_z[l, :, h]
            heads.append(drop({"head_mask": mask, "head_repl": repl}))
            forwards += 1
            print(f"\rtl loop: head {l * H + h + 1}/{L * H}", end="", file=sys.stderr, flush=True)
    mlps = []
    if do_mlps:
        for l in range(L):
            mask = torch.ones(B, L)
            mask[:, l] = 0
            repl = torch.zeros(B, L, T, M)
            repl[:, l] = mean_post[l]
            mlps.append(drop({"mlp_mask": mask, "mlp_repl": repl}))
            forwards += 1
            print(f"\rtl loop: mlp {l + 1}/{L}  ", end="", file=sys.stderr, flush=True)
    wall = time.perf_counter() - start
    print("\r", end="", file=sys.stderr)
    out = {"heads": heads, "mlps": mlps, "clean_logprob": float(clean.mean()), "wall_s": wall, "forwards": forwards,
           "threads": threads, "torch": torch.__version__}
    if "--gemm-peak" in args:
        out["gemm_gflops"] = gemm_peak(threads)
    json.dump(out, open(out_path, "w"))


if __name__ == "__main__":
    main()
