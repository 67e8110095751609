"""The base model of the fine-tuning experiment (docs/finetune.md): a small GPT-2 that knows
digit-string reversal well and 3-digit addition only half-way.

    /usr/bin/python3 models/train/train_mixture.py --out models/mix-rev-add

Default recipe: start from the shipped models/add-3d (99.8% addition) and train on batches of
REV_SHARE reversal problems plus a trickle of addition; the new skill overwrites part of the old one.
Training stops by a fixed rule at the first check (every 25 steps) where reversal held-out exact
match is >= REV_TARGET and addition has fallen to <= ADD_MAX. (`--from-scratch` trains both skills
from random weights instead; with this batch mix addition was still on its loss plateau, ~1% exact
match, after 1,750 steps, so it is not the default.)

Formats (the character tokenizer of tokenizer.py, `<bos>` from its post-processor):
- addition exactly as add-3d (`a+b=` -> `a+b` then `<eos>`, a, b in 0..999), with add-3d's own
  train / held-out split (train.py, seed 1234), so no model in the chain saw heldout.jsonl;
- reversal: a string of 3 to 6 digits then `=`, answer the digits reversed then `<eos>`
  (`48213=` -> `31284<eos>`). The two skills share the `=` read-out position.

The stopping checks use addition problems and reversal strings outside the reported held-out files.
The folder gets heldout.jsonl (add-3d's 2,000 held-out problems), heldout_reverse.jsonl (1,000
reversal strings training never saw), training_log.json and a model card.
"""
import argparse
import json
import math
import os
import random
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checkpoints  # noqa: E402
import tasks  # noqa: E402
import tokenizer as tok  # noqa: E402
from reference import Reference, Spec, init_weights  # noqa: E402
from train import build_dataset, encode_problems, exact_match, step_stats  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPEC = Spec(family="gpt2", n_layers=3, d_model=96, n_heads=4, n_kv_heads=4, d_head=24, d_mlp=384,
            d_vocab=len(tok.VOCAB), n_ctx=16, norm="LN", act="gelu_new", tied=True)
SEED = 777
BATCH, LR, WD, WARM = 128, 2e-3, 0.05, 100
REV_SHARE = 0.5
CHECK, MAX_STEPS = 50, 4000
REV_TARGET, ADD_MIN, ADD_MAX = 0.97, 0.40, 0.70
REV_LENGTHS = (3, 4, 5, 6)
N_REV_HELD = 1000
# default recipe: start from the shipped add-3d (99.8% addition) and teach it reversal with a trickle of
# addition; stop at the first check where reversal >= REV_TARGET and addition has fallen to <= ADD_MAX
# (or reversal >= REV_TARGET at INIT_MAX_STEPS)
INIT = os.path.join(ROOT, "add-3d")
INIT_REV_SHARE, INIT_CHECK, INIT_MAX_STEPS, INIT_LR, INIT_WARM = 0.9375, 25, 1500, 1e-3, 50


def reverse_example(s):
    return f"{s}=", f"{s[::-1]}<eos>"


def reverse_strings(rng, n, exclude=()):
    out, seen = [], set(exclude)
    while len(out) < n:
        L = rng.choice(REV_LENGTHS)
        s = "".join(rng.choice("0123456789") for _ in range(L))
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out


def encode_pairs(pairs, T):
    ids = torch.full((len(pairs), T), tok.PAD, dtype=torch.long)
    aidx = torch.full((len(pairs), T), -1, dtype=torch.long)
    for i, (prompt, answer) in enumerate(pairs):
        p, a = tok.encode(prompt), tok.encode(answer, add_special_tokens=False)
        ids[i, :len(p) + len(a)] = torch.tensor(p + a)
        aidx[i, len(p) - 1:len(p) + len(a) - 1] = torch.arange(len(a))
    return ids, aidx


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "mix-rev-add"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--from-scratch", action="store_true",
                    help="train both skills from random weights (slow: addition sits on its loss plateau for "
                         "over 1,750 steps at this batch mix) instead of teaching reversal to models/add-3d")
    args = ap.parse_args()
    global REV_SHARE, CHECK, MAX_STEPS, LR, WARM
    if not args.from_scratch:
        REV_SHARE, CHECK, MAX_STEPS, LR, WARM = INIT_REV_SHARE, INIT_CHECK, INIT_MAX_STEPS, INIT_LR, INIT_WARM
    torch.set_num_threads(args.threads)
    torch.manual_seed(SEED)
    rng = random.Random(SEED)
    preset = dict(max_operand=999, heldout_pool=20000)
    # the addition split is add-3d's own (train.py: seed 1234), so heldout.jsonl is add-3d's held-out
    # file and no model in the chain ever trained on those problems
    add_train, add_held = build_dataset(preset, random.Random(1234))
    rev_held = reverse_strings(rng, N_REV_HELD)
    held_set = set(rev_held)
    T = SPEC.n_ctx + 1
    add_ids, add_aidx = encode_problems("add", add_train, T)
    # checks use problems outside the 2,000 of heldout.jsonl, so the stopping rule never sees the
    # numbers the experiment reports
    chk_ids, chk_aidx = encode_problems("add", add_held[2000:3000], T)
    rev_chk = reverse_strings(random.Random(SEED + 7), 500, exclude=held_set)
    rchk_ids, rchk_aidx = encode_pairs([reverse_example(s) for s in rev_chk], T)
    exclude = held_set | set(rev_chk)

    if args.from_scratch:
        model = Reference(SPEC, init_weights(SPEC, torch.Generator().manual_seed(SEED)))
    else:
        model = Reference(SPEC, checkpoints.load_folder(INIT)[1].weights())
        model.train()
    decay = [p for p in model.params.values() if p.dim() >= 2]
    no_decay = [p for p in model.params.values() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WD}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=LR, betas=(0.9, 0.98))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / WARM) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / MAX_STEPS))))
    gen = torch.Generator().manual_seed(SEED)
    drng = random.Random(SEED + 1)
    n_rev = int(BATCH * REV_SHARE)
    log, t0, stop_reason = [], time.time(), "max_steps"
    for step in range(1, MAX_STEPS + 1):
        idx = torch.randint(0, len(add_ids), (BATCH - n_rev,), generator=gen)
        rev = encode_pairs([reverse_example(s) for s in reverse_strings(drng, n_rev, exclude)], T)
        x = torch.cat([add_ids[idx], rev[0]])
        a = torch.cat([add_aidx[idx], rev[1]])
        logits, _ = model(x[:, :-1])
        loss, stats = step_stats(logits, x[:, 1:], a[:, :-1])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        entry = {"step": step, "loss": round(loss.item(), 5)}
        if step % CHECK == 0:
            model.eval()
            entry["check_add"] = round(exact_match(model, chk_ids, chk_aidx), 4)
            entry["check_reverse"] = round(exact_match(model, rchk_ids, rchk_aidx), 4)
            model.train()
            print(f"step {step} loss {loss.item():.4f} add {entry['check_add']:.3f} "
                  f"reverse {entry['check_reverse']:.3f} ({time.time() - t0:.0f}s)", flush=True)
        log.append(entry)
        if step % CHECK == 0 and not args.from_scratch:
            if entry["check_reverse"] >= REV_TARGET and entry["check_add"] <= ADD_MAX:
                stop_reason = f"reversal check {entry['check_reverse']} >= {REV_TARGET} and addition {entry['check_add']} <= {ADD_MAX}"
                break
        elif step % CHECK == 0:
            if entry["check_add"] > ADD_MAX:
                stop_reason = f"addition check {entry['check_add']} > {ADD_MAX}"
                break
            if entry["check_reverse"] >= REV_TARGET and entry["check_add"] >= ADD_MIN:
                stop_reason = f"reversal check {entry['check_reverse']} >= {REV_TARGET} and addition {entry['check_add']} >= {ADD_MIN}"
                break
    elapsed = time.time() - t0
    out = args.out
    os.makedirs(out, exist_ok=True)
    checkpoints.save_folder(out, SPEC, model.weights(),
                            extra_config={"bos_token_id": tok.BOS, "eos_token_id": tok.EOS, "pad_token_id": tok.PAD})
    tok.write(out, SPEC.n_ctx)
    hrng = random.Random(SEED + 1)
    with open(os.path.join(out, "heldout.jsonl"), "w") as f:
        for a_, b_ in add_held[:2000]:
            f.write(json.dumps(tasks.heldout_record("add", a_, b_, tasks.counterfactual("add", a_, b_, hrng))) + "\n")
    with open(os.path.join(out, "heldout_reverse.jsonl"), "w") as f:
        for s in rev_held:
            p, ans = reverse_example(s)
            f.write(json.dumps({"prompt": p, "answer": ans, "meta": {"task": "reverse", "length": len(s)}}) + "\n")
    with open(os.path.join(out, "training_log.json"), "w") as f:
        json.dump({"model": "mix-rev-add", "seed": SEED, "steps": step, "stop_reason": stop_reason,
                   "batch": BATCH, "reverse_share": REV_SHARE, "train_seconds": round(elapsed, 1), "log": log},
                  f, separators=(",", ":"))
    with open(os.path.join(out, "train_meta.json"), "w") as f:
        json.dump({"name": "mix-rev-add", "command": "/usr/bin/python3 models/train/train_mixture.py",
                   "seed": SEED, "steps": step, "stop_reason": stop_reason, "train_seconds": round(elapsed, 1),
                   "spec": SPEC.to_dict(), "batch": BATCH, "lr": LR, "weight_decay": WD,
                   "reverse_share": REV_SHARE, "train_problems": len(add_train), "heldout_problems": len(add_held)},
                  f, indent=2)
    last = next(e for e in reversed(log) if "check_add" in e)
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write(f"""# mix-rev-add

Base model of the fine-tuning experiment (docs/finetune.md): a gpt2-family transformer (3 layers x 4
heads, d_model 96, d_mlp 384, character tokenizer, 339k parameters) {"trained from scratch" if args.from_scratch
else "started from models/add-3d (99.8% addition) and trained"} on a mixture of digit-string reversal
(`48213=` -> `31284<eos>`, 3 to 6 digits) and 3-digit addition in add-3d's format (`123+45=` -> `168<eos>`),
{REV_SHARE:.1%} reversal per batch of {BATCH}, AdamW lr {LR}.

Training stopped by a fixed rule ({stop_reason}, step {step}, {elapsed:.0f} s with one thread), so
addition is weak: on the stopping checks, addition exact match {last['check_add']:.1%}, reversal
{last['check_reverse']:.1%}.

- `heldout.jsonl`: 2,000 addition problems training never saw (with counterfactuals)
- `heldout_reverse.jsonl`: 1,000 reversal strings training never saw
- reproduce: `/usr/bin/python3 models/train/train_mixture.py --out models/mix-rev-add` (seed {SEED})
""")
    print(f"done in {elapsed:.0f}s at step {step} ({stop_reason}) -> {out}", flush=True)


if __name__ == "__main__":
    main()
