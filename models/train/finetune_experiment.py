"""The fine-tuning experiment of docs/finetune.md, end to end, with fixed seeds:

    /usr/bin/python3 models/train/finetune_experiment.py [--base models/mix-rev-add] [--steps 200]

1. the base model (models/mix-rev-add; trained by train_mixture.py first if the folder is missing):
   digit-string reversal learned, 3-digit addition stopped early;
2. head rankings on the base model with the TypeScript CLI:
   `arithlens scan --model BASE --task add-3d --n 200 --method mean|path --json`;
3. plans: `arithlens plan --scan S --top K --format mask --model BASE` (path patching and mean
   ablation), K random heads (seeded), the same parameter count in random elements of the attention
   tensors (seeded), every parameter (full fine-tuning) and the MLP tensors only;
4. the same training stream for every run (task add-3d, data seed 0, held-out problems excluded),
   the same steps, batch and learning rate, via finetune.finetune (what finetune.py runs);
5. addition exact match on BASE/heldout.jsonl (2,000 problems) and reversal exact match on
   BASE/heldout_reverse.jsonl (1,000 strings), before and after.

Writes BASE/finetune_experiment.json (every run) and prints the markdown table of docs/finetune.md;
the fine-tuned folder of the path-patching top-K plan goes to --keep (default /tmp/finetune-exp),
and `arithlens eval --model <it> --task add-3d --n 100` is run on it as a load check.
"""
import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checkpoints  # noqa: E402
import finetune as ft  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CLI = os.path.join(ROOT, "bin", "arithlens.js")


def node(*args):
    r = subprocess.run(["node", CLI, *args], capture_output=True, text=True, cwd=ROOT)
    if r.returncode != 0:
        raise RuntimeError(f"arithlens {' '.join(args)} failed: {r.stderr}")
    return r.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", default=os.path.join(ROOT, "models", "mix-rev-add"))
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--k", type=int, nargs="+", default=[2, 4])
    ap.add_argument("--random-heads", type=int, default=5, help="seeds of the k-random-heads baseline")
    ap.add_argument("--random-elements", type=int, default=3, help="seeds of the random-elements baseline")
    ap.add_argument("--keep", default="/tmp/finetune-exp")
    ap.add_argument("--scan-n", type=int, default=200)
    args = ap.parse_args()
    torch.set_num_threads(1)
    t0 = time.time()
    base = os.path.abspath(args.base)
    if not os.path.exists(os.path.join(base, "model.safetensors")):
        subprocess.run([sys.executable, os.path.join(HERE, "train_mixture.py"), "--out", base], check=True)
    os.makedirs(args.keep, exist_ok=True)
    spec = checkpoints.load_folder(base)[0]
    sd = checkpoints.load_state_dict(base)
    reverse = ft.read_jsonl(os.path.join(base, "heldout_reverse.jsonl"))

    # 2. rankings
    scans, commands = {}, []
    for method in ("path", "mean"):
        path = os.path.join(args.keep, f"scan-{method}.json")
        cmd = ["scan", "--model", base, "--task", "add-3d", "--n", str(args.scan_n), "--method", method, "--json", path]
        node(*cmd)
        commands.append("node bin/arithlens.js " + " ".join(cmd))
        with open(path) as f:
            scans[method] = json.load(f)
    print("rankings:", {m: [f"L{h['layer']}H{h['head']}" for h in sorted(s["heads"], key=lambda h: h["rank"])[:max(args.k)]]
                        for m, s in scans.items()}, flush=True)

    # 3. plans
    runs = []
    all_heads = [(l, h) for l in range(spec.n_layers) for h in range(spec.n_heads)]
    for k in args.k:
        for method in ("path", "mean"):
            out = os.path.join(args.keep, f"plan-{method}-top{k}.json")
            cmd = ["plan", "--scan", os.path.join(args.keep, f"scan-{method}.json"), "--top", str(k), "--format", "mask",
                   "--model", base, "--out", out]
            node(*cmd)
            commands.append("node bin/arithlens.js " + " ".join(cmd))
            with open(out) as f:
                plan = json.load(f)
            runs.append({"condition": f"top-{k} heads, path patching" if method == "path" else f"top-{k} heads, mean ablation",
                         "group": f"{method}-top{k}", "k": k, "plan": plan,
                         "heads": [f"L{h['layer']}H{h['head']}" for h in plan["heads"]]})
        n_params = runs[-1]["plan"]["params_touched"]
        for seed in range(args.random_heads):
            heads = random.Random(1000 * k + seed).sample(all_heads, k)
            runs.append({"condition": f"{k} random heads", "group": f"random-heads-{k}", "k": k, "seed": seed,
                         "plan": ft.head_mask_plan(spec, heads, ft.checkpoint_shapes(spec, sd)),
                         "heads": [f"L{l}H{h}" for l, h in heads]})
        for seed in range(args.random_elements):
            runs.append({"condition": f"{n_params:,} random attention elements (= {k} heads)",
                         "group": f"random-elements-{k}", "k": k, "seed": seed,
                         "plan": ft.random_element_plan(spec, sd, n_params, seed=2000 * k + seed)})
    runs.append({"condition": "full fine-tuning", "group": "full", "plan": "full"})
    runs.append({"condition": "MLP only", "group": "mlp", "plan": "mlp"})

    # 4-5. fine-tune
    keep_group = f"path-top{args.k[0]}"
    for i, run in enumerate(runs):
        out = os.path.join(args.keep, keep_group) if run["group"] == keep_group else None
        log = ft.finetune(base, run["plan"], out, args.steps, task="add-3d", seed=0, lr=args.lr, batch=args.batch,
                          eval_every=args.steps, extra_evals={"reverse": reverse}, log_every=10, quiet=True)
        run.update(trainable=log["trainable_params"], seconds=log["train_seconds"],
                   add_before=log["initial"]["eval_accuracy"], add_after=log["final"]["eval_accuracy"],
                   rev_before=log["initial"]["reverse_accuracy"], rev_after=log["final"]["reverse_accuracy"],
                   loss_first=log["log"][1]["loss"], loss_last=log["log"][-1]["loss"])
        if not isinstance(run["plan"], str):
            run["plan"] = {k: v for k, v in run["plan"].items() if k != "elements"}  # elements: regenerated from seed
        print(f"[{i + 1}/{len(runs)}] {run['condition']} {run.get('heads', '')} seed {run.get('seed', '-')}: "
              f"add {run['add_before']:.3f} -> {run['add_after']:.3f}, reverse {run['rev_before']:.3f} -> "
              f"{run['rev_after']:.3f} ({run['seconds']:.0f}s)", flush=True)
    check = json.loads(node("eval", "--model", os.path.join(args.keep, keep_group), "--task", "add-3d", "--n", "100"))

    # table
    groups, order = {}, []
    for r in runs:
        if r["group"] not in groups:
            order.append(r["group"])
        groups.setdefault(r["group"], []).append(r)

    def cell(vals, pct=True):
        f = (lambda v: f"{100 * v:.1f}%") if pct else (lambda v: f"{v:+.1f}")
        if len(vals) == 1:
            return f(vals[0])
        return f"{f(statistics.mean(vals))} ± {100 * statistics.stdev(vals):.1f}"

    base_add, base_rev = runs[0]["add_before"], runs[0]["rev_before"]
    lines = [f"| condition | heads | trainable params | addition after | gain (pts) | reversal after | reversal change (pts) |",
             "|---|---|---:|---:|---:|---:|---:|",
             f"| base model (no fine-tuning) | | 0 | {100 * base_add:.1f}% | | {100 * base_rev:.1f}% | |"]
    for g in order:
        rs = groups[g]
        heads = "; ".join(r["heads"] and ", ".join(r["heads"]) for r in rs if r.get("heads")) if len(rs) == 1 else (
            f"{len(rs)} seeds" if rs[0].get("seed") is not None else "")
        if len(rs) == 1 and rs[0].get("heads"):
            heads = ", ".join(rs[0]["heads"])
        gain = [100 * (r["add_after"] - r["add_before"]) for r in rs]
        drev = [100 * (r["rev_after"] - r["rev_before"]) for r in rs]
        g_cell = f"{gain[0]:+.1f}" if len(rs) == 1 else f"{statistics.mean(gain):+.1f} ± {statistics.stdev(gain):.1f}"
        r_cell = f"{drev[0]:+.1f}" if len(rs) == 1 else f"{statistics.mean(drev):+.1f} ± {statistics.stdev(drev):.1f}"
        lines.append(f"| {rs[0]['condition']} | {heads} | {rs[0]['trainable']:,} | {cell([r['add_after'] for r in rs])} | "
                     f"{g_cell} | {cell([r['rev_after'] for r in rs])} | {r_cell} |")
    table = "\n".join(lines)
    result = {"base": base, "steps": args.steps, "batch": args.batch, "lr": args.lr, "data_seed": 0, "task": "add-3d",
              "addition_eval": os.path.join(base, "heldout.jsonl"), "reversal_eval": os.path.join(base, "heldout_reverse.jsonl"),
              "rankings": {m: [{"layer": h["layer"], "head": h["head"], "score": h["score"], "rank": h["rank"]}
                               for h in sorted(s["heads"], key=lambda h: h["rank"])] for m, s in scans.items()},
              "commands": commands, "engine_load_check": {"accuracy": check["accuracy"], "n": check["n"]},
              "runs": runs, "table": table, "seconds": round(time.time() - t0, 1)}
    with open(os.path.join(base, "finetune_experiment.json"), "w") as f:
        json.dump(result, f, indent=1)
    print(table)
    print(f"engine load check (arithlens eval on {keep_group}): accuracy {check['accuracy']} of {check['n']}")
    print(f"done in {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
