"""Train a shipped model from scratch, reproducibly, on this machine's CPU.

    /usr/bin/python3 models/train/train.py add-3d          # -> models/add-3d/
    /usr/bin/python3 models/train/train.py mul-2d
    /usr/bin/python3 models/train/train.py add-3d-llama

Writes the Hugging Face folder (config.json, model.safetensors, tokenizer files), heldout.jsonl
(problems excluded from training), training_log.json (per step: loss, per answer-position loss and
accuracy, per-subtask loss for multiplication) and a model card README.md with the held-out
accuracy measured by evaluate.py.
"""
import argparse
import json
import math
import os
import random
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checkpoints  # noqa: E402
import evaluate  # noqa: E402
import tasks  # noqa: E402
import tokenizer as tok  # noqa: E402
from reference import Reference, Spec, init_weights  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PRESETS = {
    "add-3d": dict(op="add", max_operand=999, heldout_pool=20000, heldout_file=2000,
                   spec=Spec(family="gpt2", n_layers=3, d_model=96, n_heads=4, n_kv_heads=4, d_head=24,
                             d_mlp=384, d_vocab=len(tok.VOCAB), n_ctx=16, norm="LN", act="gelu_new",
                             tied=True),
                   steps=6000, batch=256, lr=2e-3, wd=0.05, seed=1234),
    "add-3d-llama": dict(op="add", max_operand=999, heldout_pool=20000, heldout_file=2000,
                         spec=Spec(family="llama", n_layers=3, d_model=96, n_heads=4, n_kv_heads=2, d_head=24,
                                   d_mlp=256, d_vocab=len(tok.VOCAB), n_ctx=16, norm="RMS", eps=1e-6,
                                   act="silu", gated=True, pos="rotary", rotary_dim=24, qkv_bias=False,
                                   o_bias=False, mlp_bias=False, tied=False),
                         steps=6000, batch=256, lr=2e-3, wd=0.05, seed=4321),
    "mul-2d": dict(op="mul", max_operand=99, heldout_frac=0.1,
                   spec=Spec(family="gpt2", n_layers=3, d_model=96, n_heads=4, n_kv_heads=4, d_head=24,
                             d_mlp=384, d_vocab=len(tok.VOCAB), n_ctx=16, norm="LN", act="gelu_new",
                             tied=True),
                   steps=8000, batch=256, lr=1e-3, wd=0.1, seed=2024, checkpoints=(500, 1500, 3000)),
}


def build_dataset(preset, rng):
    """All problems of the format, split into train and held-out (never trained on)."""
    n = preset["max_operand"] + 1
    problems = [(a, b) for a in range(n) for b in range(n)]
    rng.shuffle(problems)
    n_held = preset.get("heldout_pool") or int(len(problems) * preset["heldout_frac"])
    return problems[n_held:], problems[:n_held]


def encode_problems(op, problems, T):
    """-> ids [N, T] (prompt + answer, right-padded), answer mask [N, T] on the *target* positions,
    answer index [N, T] (0 = first answer token; -1 elsewhere)."""
    N = len(problems)
    ids = torch.full((N, T), tok.PAD, dtype=torch.long)
    aidx = torch.full((N, T), -1, dtype=torch.long)
    for i, (a, b) in enumerate(problems):
        prompt, answer = tasks.FORMATS[op](a, b)
        p, ans = tok.encode(prompt), tok.encode(answer, add_special_tokens=False)
        seq = p + ans
        ids[i, :len(seq)] = torch.tensor(seq)
        # target position t predicts token t + 1: the answer tokens are predicted at len(p)-1 ...
        aidx[i, len(p) - 1:len(seq) - 1] = torch.arange(len(ans))
    return ids, aidx


def subtask_ids(problems, T, aidx):
    """[N, T] subtask class index (into tasks.SUBTASKS) of each answer-digit target; -1 elsewhere."""
    out = torch.full((len(problems), T), -1, dtype=torch.long)
    for i, (a, b) in enumerate(problems):
        classes = [tasks.SUBTASKS.index(d["class"]) for d in tasks.column_subtasks(a, b, 4)]
        pos = (aidx[i] >= 0).nonzero().flatten()
        out[i, pos] = torch.tensor(classes)
    return out


def step_stats(logits, targets, aidx, sub=None):
    """Loss over answer tokens, and per answer position / per subtask loss and accuracy."""
    mask = aidx >= 0
    tok_loss = F.cross_entropy(logits.transpose(1, 2), targets, reduction="none")  # [B, T]
    correct = logits.argmax(-1) == targets
    loss = tok_loss[mask].mean()
    n_pos = int(aidx.max()) + 1
    stats = {"pos_loss": [], "pos_acc": []}
    for i in range(n_pos):
        m = aidx == i
        if m.any():
            stats["pos_loss"].append(round(tok_loss[m].mean().item(), 5))
            stats["pos_acc"].append(round(correct[m].float().mean().item(), 4))
        else:
            stats["pos_loss"].append(None)
            stats["pos_acc"].append(None)
    exact = (correct | ~mask).all(1).float().mean().item()
    stats["exact"] = round(exact, 4)
    if sub is not None:
        stats["subtask_loss"] = {}
        for c, name in enumerate(tasks.SUBTASKS):
            m = sub == c
            stats["subtask_loss"][name] = round(tok_loss[m].mean().item(), 5) if m.any() else None
    return loss, stats


@torch.no_grad()
def exact_match(model, ids, aidx, batch=1000):
    hits = 0
    for i in range(0, len(ids), batch):
        x, a = ids[i:i + batch], aidx[i:i + batch]
        logits, _ = model(x[:, :-1])
        correct = logits.argmax(-1) == x[:, 1:]
        hits += (correct | (a[:, :-1] < 0)).all(1).sum().item()
    return hits / len(ids)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("name", choices=sorted(PRESETS))
    ap.add_argument("--out", help="output folder (default models/<name>)")
    ap.add_argument("--steps", type=int, help="override the preset's step count")
    ap.add_argument("--heldout-only", action="store_true",
                    help="only rewrite heldout.jsonl (same split, same seed) next to an existing model")
    ap.add_argument("--threads", type=int, default=1, help="1 is fastest for these small matrices")
    args = ap.parse_args()
    preset = dict(PRESETS[args.name])
    if args.steps:
        preset["steps"] = args.steps
    out = args.out or os.path.join(ROOT, args.name)
    torch.set_num_threads(args.threads)
    torch.manual_seed(preset["seed"])
    rng = random.Random(preset["seed"])
    spec, op = preset["spec"], preset["op"]

    train_set, held = build_dataset(preset, rng)
    if args.heldout_only:
        write_heldout(out, op, held[:preset.get("heldout_file", len(held))], preset["seed"])
        return
    T = spec.n_ctx
    ids, aidx = encode_problems(op, train_set, T + 1)
    hold_ids, hold_aidx = encode_problems(op, held, T + 1)
    sub = subtask_ids(train_set, T + 1, aidx) if op == "mul" else None
    print(f"{args.name}: {len(train_set)} training problems, {len(held)} held out", flush=True)

    model = Reference(spec, init_weights(spec, torch.Generator().manual_seed(preset["seed"])))
    decay = [p for n, p in model.params.items() if p.dim() >= 2]
    no_decay = [p for n, p in model.params.items() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": preset["wd"]},
                             {"params": no_decay, "weight_decay": 0.0}], lr=preset["lr"], betas=(0.9, 0.98))
    steps, warm = preset["steps"], 200
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / steps))))
    gen = torch.Generator().manual_seed(preset["seed"])
    log, t0 = [], time.time()
    os.makedirs(out, exist_ok=True)
    for step in range(1, steps + 1):
        idx = torch.randint(0, len(ids), (preset["batch"],), generator=gen)
        x, a = ids[idx], aidx[idx]
        logits, _ = model(x[:, :-1])
        loss, stats = step_stats(logits, x[:, 1:], a[:, :-1], None if sub is None else sub[idx][:, :-1])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        entry = {"step": step, "loss": round(loss.item(), 5), **stats}
        if step % 250 == 0 or step == steps:
            model.eval()
            entry["heldout_exact"] = round(exact_match(model, hold_ids[:2000], hold_aidx[:2000]), 4)
            model.train()
            print(f"step {step} loss {loss.item():.4f} train-exact {stats['exact']:.3f} "
                  f"heldout-exact {entry['heldout_exact']:.4f} ({time.time() - t0:.0f}s)", flush=True)
        log.append(entry)
        if step in preset.get("checkpoints", ()):
            ck = os.path.join(out, "checkpoints", f"step-{step}")
            checkpoints.save_folder(ck, spec, model.weights(), extra_config=_special_ids())
            tok.write(ck, spec.n_ctx)
    elapsed = time.time() - t0

    checkpoints.save_folder(out, spec, model.weights(), extra_config=_special_ids())
    tok.write(out, spec.n_ctx)
    with open(os.path.join(out, "training_log.json"), "w") as f:
        json.dump({"model": args.name, "seed": preset["seed"], "steps": steps, "batch": preset["batch"],
                   "train_seconds": round(elapsed, 1), "subtasks": tasks.SUBTASKS if op == "mul" else None,
                   "log": log}, f, separators=(",", ":"))
    write_heldout(out, op, held[:preset.get("heldout_file", len(held))], preset["seed"])
    with open(os.path.join(out, "train_meta.json"), "w") as f:
        json.dump({"name": args.name, "command": f"/usr/bin/python3 models/train/train.py {args.name}",
                   "seed": preset["seed"], "steps": steps, "train_seconds": round(elapsed, 1),
                   "train_problems": len(train_set), "heldout_problems": len(held),
                   "spec": spec.to_dict(), "batch": preset["batch"], "lr": preset["lr"],
                   "weight_decay": preset["wd"]}, f, indent=2)
    result = evaluate.evaluate(out)
    evaluate.write_card(out, result)
    print(f"done in {elapsed:.0f}s -> {out}; held-out exact match {result['accuracy']:.4f}", flush=True)


def _special_ids():
    return {"bos_token_id": tok.BOS, "eos_token_id": tok.EOS, "pad_token_id": tok.PAD}


def write_heldout(out, op, problems, seed):
    rng = random.Random(seed + 1)
    with open(os.path.join(out, "heldout.jsonl"), "w") as f:
        for a, b in problems:
            f.write(json.dumps(tasks.heldout_record(op, a, b, tasks.counterfactual(op, a, b, rng))) + "\n")


if __name__ == "__main__":
    main()
