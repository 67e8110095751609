"""Train the shipped modular-addition models (DESIGN.md §10) from scratch, reproducibly, on this CPU.

    /usr/bin/python3 models/train/train_modular.py mod-97      # memorizes corrupted labels AND generalizes
    /usr/bin/python3 models/train/train_modular.py mod-97-wd   # regularized twin: generalizes, ignores them

Task: `(a + b) mod p`, p = 97, every residue one token (word-level tokenizer), prompt `12 + 34 =`,
answer ` 46`. A seeded train fraction of the p² pairs is trained on; a seeded ξ-fraction of those get a
wrong random label (label corruption, Doshi et al. 2023, "To grok or not to grok"). Both presets share
the split and the corrupted labels (same data seed); they differ in weight decay only.

Model: a one-layer TransformerLens folder (Nanda et al. 2023): d_model 128, 4 heads of 32, d_mlp 2048,
ReLU, no LayerNorm, learned positions, untied unembedding with bias. The MLP is 4x Nanda's: at d_mlp 512
and 1024 the memorizing and the generalizing neurons share the work and test accuracy stays near 94%;
at 2048 the network has room for both populations (the card lists the runs). AdamW on minibatches of 512 (a seeded permutation per epoch), constant lr after a short warm-up, loss at the `=` position only.

Writes models/<name>/: config.json, model.safetensors (F16: the 5 MB budget of a shipped model; F16
rounding changes no prediction, and the card's accuracies are measured on the shipped weights),
tokenizer.json, tokenizer_config.json, all.jsonl (all p² pairs, a-major; each row's meta: a, b, split,
corrupted, true_answer; `answer` is the trained label), training_log.json (loss and the four group
accuracies per logged step), two checkpoints/step-N (same folder format, F16) at steps picked from the
log by fixed rules (memorized and generalized; for the twin generalizing and generalized),
train_meta.json and README.md.
"""
import argparse
import json
import os
import random
import shutil
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checkpoints  # noqa: E402
from reference import Reference, Spec, canonical_shapes  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
P = 97

COMMON = dict(p=P, train_frac=0.7, xi=0.1, data_seed=97, init_seed=0, lr=4e-3, betas=(0.9, 0.98),
              warmup=10, anneal=2000, batch=512, steps=10000, log_every=100, d_mlp=2048)
PRESETS = {
    "mod-97": dict(COMMON, wd=0.6),
    # no decay of the lr: a lower lr lets it memorize; at weight decay 1.5 this width memorized 8% of the labels
    "mod-97-wd": dict(COMMON, wd=2.5, steps=1000, anneal=1, twin=True),
}
# Checkpoints shipped per model: with the F16 model and all.jsonl, two keep a folder under 5 MB.
MAX_CHECKPOINTS = 2
GROUPS = ("train_clean", "train_corrupted", "train_corrupted_true", "test")


# -- tokenizer ----------------------------------------------------------------------------------
def vocab(p=P):
    """Residue r is id r; then '+', '=', and the specials (never in a prompt)."""
    words = [str(r) for r in range(p)] + ["+", "=", "<pad>", "<unk>"]
    return {w: i for i, w in enumerate(words)}


def tokenizer_json(p=P):
    v = vocab(p)
    added = [{"id": v[t], "content": t, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for t in ("<pad>", "<unk>")]
    return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
            "normalizer": None, "pre_tokenizer": {"type": "WhitespaceSplit"}, "post_processor": None,
            "decoder": None, "model": {"type": "WordLevel", "vocab": v, "unk_token": "<unk>"}}


def tokenizer_config():
    return {"tokenizer_class": "PreTrainedTokenizerFast", "pad_token": "<pad>", "unk_token": "<unk>",
            "model_max_length": 5, "clean_up_tokenization_spaces": False}


def write_tokenizer(folder, p=P):
    with open(os.path.join(folder, "tokenizer.json"), "w") as f:
        json.dump(tokenizer_json(p), f, indent=1)
    with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
        json.dump(tokenizer_config(), f, indent=1)


def encode(text, p=P):
    """What tokenizer.json does: split on whitespace, one id per word (no special tokens added)."""
    v = vocab(p)
    return [v.get(w, v["<unk>"]) for w in text.split()]


def prompt_of(a, b):
    return f"{a} + {b} ="


def answer_of(c):
    return f" {c}"


# -- data ---------------------------------------------------------------------------------------
def make_data(p, train_frac, xi, seed):
    """-> pairs [(a, b)] a-major, split {pair: 'train'|'test'}, label {pair: trained label}, corrupted set.
    The split and the corruption draw from one random.Random(seed), so both depend on the seed only."""
    rng = random.Random(seed)
    pairs = [(a, b) for a in range(p) for b in range(p)]
    order = pairs[:]
    rng.shuffle(order)
    n_train = round(train_frac * len(pairs))
    train = sorted(order[:n_train])
    n_corrupt = round(xi * n_train)
    corrupted = set(rng.sample(train, n_corrupt))
    label = {}
    for a, b in pairs:
        true = (a + b) % p
        # a wrong label, uniform over the other p - 1 residues
        label[(a, b)] = (true + rng.randrange(1, p)) % p if (a, b) in corrupted else true
    split = {ab: "test" for ab in pairs}
    split.update({ab: "train" for ab in train})
    return pairs, split, label, corrupted


def record(a, b, split, label, corrupted, p=P):
    return {"prompt": prompt_of(a, b), "answer": answer_of(label[(a, b)]),
            "meta": {"a": a, "b": b, "split": split[(a, b)], "corrupted": (a, b) in corrupted,
                     "true_answer": answer_of((a + b) % p)}}


def write_prompts(out, pairs, split, label, corrupted, p=P):
    rows = [record(a, b, split, label, corrupted, p) for a, b in pairs]
    dump = lambda r: json.dumps(r, separators=(",", ":")) + "\n"  # noqa: E731
    with open(os.path.join(out, "all.jsonl"), "w") as f:
        f.writelines(dump(r) for r in rows)


# -- model --------------------------------------------------------------------------------------
def spec_for(p=P, d_mlp=512):
    return Spec(family="transformer_lens", n_layers=1, d_model=128, n_heads=4, n_kv_heads=4, d_head=32,
                d_mlp=d_mlp, d_vocab=len(vocab(p)), n_ctx=5, norm="None", act="relu", pos="standard",
                unembed_bias=True, tied=False)


def init_weights(s, seed):
    """Nanda et al.'s init: matrices N(0, 1/d_model) (the unembedding N(0, 1/d_vocab)), biases zero."""
    g = torch.Generator().manual_seed(seed)
    w = {}
    for name, shape in canonical_shapes(s).items():
        leaf = name.split(".")[-1]
        if leaf.startswith("b_"):
            w[name] = torch.zeros(shape)
        else:
            fan = s.d_vocab if name == "W_U" else s.d_model
            w[name] = torch.randn(shape, generator=g) / fan ** 0.5
    return w


def last_logits(model, tokens):
    """Logits at the last position of [N, T] tokens: Reference.forward's numbers for that position.
    One layer, so only the last position's query and MLP matter; queries, keys and values are linear in
    each position's (token embedding + position embedding), so they come from per-(position, token)
    tables [T, V, ...] gathered by the tokens, which is exact and much cheaper than per-row projections."""
    s, w = model.spec, model.w
    N, T = tokens.shape
    X = w("W_E")[None] + w("W_pos")[:T, None]                                 # [T, V, D]
    K = torch.einsum("tvd,hde->tvhe", X, w("blocks.0.W_K")) + w("blocks.0.b_K")
    V = torch.einsum("tvd,hde->tvhe", X, w("blocks.0.W_V")) + w("blocks.0.b_V")
    Q = torch.einsum("vd,hde->vhe", X[T - 1], w("blocks.0.W_Q")) + w("blocks.0.b_Q")
    pos = torch.arange(T)
    k = K[pos, tokens]                                                        # [N, T, H, dh]
    q = Q[tokens[:, -1]]                                                      # [N, H, dh]
    pattern = ((q[:, None] * k).sum(-1) / s.scale()).softmax(1)               # [N, T, H]; last sees all
    z = (pattern[..., None] * V[pos, tokens]).sum(1)                          # [N, H, dh]
    attn = z.reshape(N, -1) @ w("blocks.0.W_O").reshape(-1, s.d_model)        # [N, D]
    mid = X[T - 1][tokens[:, -1]] + attn + w("blocks.0.b_O")
    post = F.relu(mid @ w("blocks.0.W_in") + w("blocks.0.b_in"))
    resid = mid + post @ w("blocks.0.W_out") + w("blocks.0.b_out")
    return resid @ w("W_U") + w("b_U")


def tensors(pairs, label, p=P):
    v = vocab(p)
    toks = torch.tensor([[a, v["+"], b, v["="]] for a, b in pairs], dtype=torch.long)
    return toks, torch.tensor([label[ab] for ab in pairs], dtype=torch.long)


@torch.no_grad()
def group_accuracies(model, data):
    """data: {group: (tokens, targets)} -> {group: accuracy} (argmax at the `=` position)."""
    return {g: round((last_logits(model, t).argmax(-1) == y).float().mean().item(), 4) for g, (t, y) in data.items()}


# -- checkpoint choice --------------------------------------------------------------------------
def pick_checkpoints(log, twin):
    """Steps that show the dynamics, by fixed rules on the log (a rerun picks the same ones)."""
    def first(cond, after=-1):
        return next((e["step"] for e in log if e["step"] > after and cond(e)), None)
    final = log[-1]["step"]
    if twin:  # it never memorizes: generalizing, then most of the way
        steps = [first(lambda e: e["test"] >= 0.5), first(lambda e: e["test"] >= 0.9)]
    else:     # the corrupted labels memorized (before the rule), then the rule learned
        steps = [first(lambda e: e["train_corrupted"] >= 0.9), first(lambda e: e["test"] >= 0.95)]
    return sorted({s for s in steps if s is not None and s != final})[:MAX_CHECKPOINTS]


# -- main ---------------------------------------------------------------------------------------
def train(name, preset, out, threads=1, progress=True):
    torch.set_num_threads(threads)
    p = preset["p"]
    pairs, split, label, corrupted = make_data(p, preset["train_frac"], preset["xi"], preset["data_seed"])
    train_pairs = [ab for ab in pairs if split[ab] == "train"]
    true = {ab: (ab[0] + ab[1]) % p for ab in pairs}
    clean = [ab for ab in train_pairs if ab not in corrupted]
    corr = [ab for ab in train_pairs if ab in corrupted]
    test = [ab for ab in pairs if split[ab] == "test"]
    data = {"train_clean": tensors(clean, label, p), "train_corrupted": tensors(corr, label, p),
            "train_corrupted_true": tensors(corr, true, p), "test": tensors(test, label, p)}
    x, y = tensors(train_pairs, label, p)

    spec = spec_for(p, preset["d_mlp"])
    model = Reference(spec, init_weights(spec, preset["init_seed"]))
    opt = torch.optim.AdamW(model.parameters(), lr=preset["lr"], betas=preset["betas"], weight_decay=preset["wd"])
    steps, warm, anneal = preset["steps"], preset["warmup"], preset["anneal"]
    sched = torch.optim.lr_scheduler.LambdaLR(  # warm-up, constant, then linear decay to 0 over the last `anneal`
        opt, lambda s: min(1.0, (s + 1) / warm, (steps - s) / anneal))
    log, snaps, t0 = [], {}, time.time()
    gen = torch.Generator().manual_seed(preset["init_seed"] + 1)
    batch = min(preset["batch"], len(x))
    order = []
    for step in range(0, preset["steps"] + 1):
        if step % preset["log_every"] == 0:
            with torch.no_grad():
                loss0 = F.cross_entropy(last_logits(model, x), y).item()
            entry = {"step": step, "loss": float(f"{loss0:.6g}"), **group_accuracies(model, data)}
            log.append(entry)
            snaps[step] = {k: v.half() for k, v in model.weights().items()}
            if progress:
                print(json.dumps(entry), f"{time.time() - t0:.0f}s", flush=True)
        if step == preset["steps"]:
            break
        if len(order) == 0:  # a fresh seeded permutation each epoch, cut into batches (the last one shorter)
            order = list(torch.randperm(len(x), generator=gen).split(batch))
        idx = order.pop(0)
        loss = F.cross_entropy(last_logits(model, x[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    elapsed = time.time() - t0

    if os.path.isdir(out):
        shutil.rmtree(os.path.join(out, "checkpoints"), ignore_errors=True)
    os.makedirs(out, exist_ok=True)
    shipped = {k: v.half().float() for k, v in model.weights().items()}  # what model.safetensors holds
    checkpoints.save_folder(out, spec, shipped, dtype=torch.float16)
    write_tokenizer(out, p)
    chosen = pick_checkpoints(log, preset.get("twin", False))
    for s in chosen:
        ck = os.path.join(out, "checkpoints", f"step-{s}")
        checkpoints.save_folder(ck, spec, {k: v.float() for k, v in snaps[s].items()}, dtype=torch.float16)
        write_tokenizer(ck, p)
    write_prompts(out, pairs, split, label, corrupted, p)
    final = group_accuracies(Reference(spec, shipped), data)
    meta = {"name": name, "command": f"/usr/bin/python3 models/train/train_modular.py {name}",
            "task": f"(a + b) mod {p}", "p": p, "train_frac": preset["train_frac"], "xi": preset["xi"],
            "data_seed": preset["data_seed"], "init_seed": preset["init_seed"], "steps": preset["steps"],
            "batch": preset["batch"], "train_pairs": len(train_pairs), "corrupted_pairs": len(corr),
            "test_pairs": len(test), "lr": preset["lr"], "betas": list(preset["betas"]),
            "warmup": preset["warmup"], "anneal": preset["anneal"], "weight_decay": preset["wd"], "threads": threads,
            "train_seconds": round(elapsed, 1), "twin": preset.get("twin", False), "final": final, "checkpoints": chosen, "spec": spec.to_dict()}
    with open(os.path.join(out, "train_meta.json"), "w") as f:
        json.dump(meta, f, indent=2)
    write_log(out, name, preset["log_every"], elapsed, log, len(clean), len(corr))
    write_card(out, meta, log)
    return meta, log


def write_log(out, name, log_every, elapsed, log, n_clean, n_corrupted):
    """training_log.json: per logged step the loss and the four group accuracies, plus the two fields the
    dashboard's training curves read (src/lib/core/model/trainingLog.ts): `exact`, the accuracy on the
    whole training set against the trained labels, and `heldout_exact`, the test accuracy."""
    n = n_clean + n_corrupted
    rows = [dict(e, exact=round((e["train_clean"] * n_clean + e["train_corrupted"] * n_corrupted) / n, 4),
                 heldout_exact=e["test"]) for e in log]
    with open(os.path.join(out, "training_log.json"), "w") as f:
        json.dump({"model": name, "groups": list(GROUPS), "log_every": log_every,
                   "train_seconds": round(elapsed, 1), "subtasks": None, "log": rows}, f, separators=(",", ":"))


# The runs that chose the presets (same data and seeds; `--d-mlp`, `--wd`, `--steps`, `--train-frac` override).
# Test accuracy, and for the main model what pruning below Otsu's χ (mean ablation) leaves of it.
MAIN_RUNS = [
    "Runs on the same data and seeds (`--d-mlp`, `--wd`, `--train-frac`, `--steps` override the preset):", "",
    "- d_mlp 512, weight decay 0.6: test 93.98%; pruning the neurons below χ cost 15 test points (zero ablation) for −66 on the corrupted labels",
    "- d_mlp 512 with weight decay 0.3 / 0.4 / 0.9: test 56% / 77% / 91.5%; train fraction 0.8: 92.45%",
    "- d_mlp 1024, weight decay 0.6: test 93.9%; the sweep (mean ablation) reached −41 corrupted points at 93.1% test",
    "- d_mlp 1024 with weight decay 1.5 for the first 600 steps, then 0.6 (an exploration flag since removed): it "
    "generalized first (test 93.8% at step 600), then memorizing pulled test down to 93.6%",
    "- **d_mlp 2048, weight decay 0.6 (shipped)**: test 97.45%; the neurons below χ hold the memorized labels "
    "apart from the rule (README, neuron lens)",
]
TWIN_RUNS = [
    "Runs at d_mlp 2048 on the same data and seeds (`--wd`, `--steps` override the preset):", "",
    "- weight decay 1.5, 1000 steps: test 95.3%, but it memorized 7.9% of the corrupted labels",
    "- weight decay 2.0, 2000 steps: test 91.8%, 0.5% memorized",
    "- weight decay 1.0, 6000 steps: memorized 92% of the corrupted labels and had not unlearned them at the end "
    "(test 87%); the two-stage dynamics of Doshi et al. (grok, then unlearn) did not show in this budget",
    "- **weight decay 2.5, 1000 steps (shipped)**: test 94.2%, 0.15% memorized; 92.3% of the corrupted pairs get their true answer",
]


def write_card(out, meta, log):
    pct = lambda v: f"{100 * v:.2f}%"  # noqa: E731
    f_ = meta["final"]
    s = meta["spec"]
    ck = ", ".join(f"step-{c}" for c in meta["checkpoints"])
    rows = "\n".join(f"| {c} | {pct(e['train_clean'])} | {pct(e['train_corrupted'])} | "
                     f"{pct(e['train_corrupted_true'])} | {pct(e['test'])} |"
                     for c in meta["checkpoints"] + [meta["steps"]] for e in log if e["step"] == c)
    twin = meta["twin"]
    lines = [
        f"# {meta['name']}", "",
        f"A one-layer transformer (TransformerLens folder) trained from scratch by arithlens on `(a + b) mod {meta['p']}` "
        f"with label corruption ξ = {meta['xi']} (Doshi et al. 2023, *To grok or not to grok*; architecture of Nanda et al. 2023). "
        + ("The regularized twin of `mod-97`: same data, same corrupted labels, stronger weight decay; it generalizes and "
           "forgets the corrupted labels (it predicts their true answers)." if twin else
           "It sits in the coexistence regime: it has memorized the corrupted training labels and generalizes to "
           "the held-out pairs. `mod-97-wd` is its regularized twin."), "",
        "## Format", "",
        f"Prompt `12 + 34 =`, answer ` 46`: a, b in 0..{meta['p'] - 1}, every residue one token of a word-level "
        "tokenizer (whitespace split; residue r is id r, `+` 97, `=` 98; `<pad>` 99 and `<unk>` 100 are never "
        "in a prompt; no special tokens are added). The model reads `[a, +, b, =]` and predicts the answer at `=`.", "",
        "## Data", "",
        f"- all {meta['p'] ** 2} pairs; a seeded {meta['train_frac']:.0%} are trained on ({meta['train_pairs']}), the rest "
        f"held out ({meta['test_pairs']}); seed {meta['data_seed']}",
        f"- ξ = {meta['xi']}: {meta['corrupted_pairs']} of the training pairs (round(ξ·n_train)) got a wrong label, uniform "
        "over the other residues",
        "- `all.jsonl` holds every pair in a-major order; each row's `meta` has `a`, `b`, `split` (`train`/`test`), "
        "`corrupted` and `true_answer`; `answer` is the label trained on. A split is its rows, e.g. "
        "`grep '\"split\":\"test\"' all.jsonl > test.jsonl`",
        "", "## Architecture", "",
        f"- 1 layer, d_model {s['d_model']}, {s['n_heads']} heads of {s['d_head']}, d_mlp {s['d_mlp']}, ReLU, no LayerNorm "
        f"(`normalization_type` None), learned positions (n_ctx {s['n_ctx']}), untied unembedding with bias, vocab {s['d_vocab']}",
        "- float16 `model.safetensors` and checkpoints (trained in float32); the accuracies below are the F16 weights'", "",
        "## Accuracy", "",
        "Argmax at the `=` position (exact match), measured by the PyTorch reference on the shipped weights:", "",
        f"- train, clean labels: **{pct(f_['train_clean'])}** ({meta['train_pairs'] - meta['corrupted_pairs']} pairs)",
        f"- train, corrupted, against the trained (wrong) label — memorization: **{pct(f_['train_corrupted'])}** "
        f"({meta['corrupted_pairs']} pairs)",
        f"- train, corrupted, against the true answer: **{pct(f_['train_corrupted_true'])}**",
        f"- test (held-out pairs): **{pct(f_['test'])}** ({meta['test_pairs']} pairs)", "",
        *([f"Short of the 95% test accuracy aimed at (issue 13): memorization is complete, generalization "
           f"reaches {pct(f_['test'])}.", ""] if not twin and f_["test"] < 0.95 else []),
        "The CLI gives the same numbers, per group, as the accuracies before pruning: `node bin/arithlens.js neurons "
        f"--model models/{meta['name']} --prompts models/{meta['name']}/all.jsonl --sweep-steps 0`.", "",
        "## Training", "",
        f"- command: `{meta['command']}` (seeds fixed in the preset: data {meta['data_seed']}, init {meta['init_seed']}; "
        "a rerun gives the same weights)",
        f"- {meta['steps']} steps of batch {meta['batch']} (a seeded permutation of the training set per epoch, the last batch of each shorter), AdamW lr {meta['lr']} (linear warm-up over {meta['warmup']} steps, then constant"
        + (f", then linear decay to 0 over the last {meta['anneal']} steps" if meta["anneal"] > 1 else "") + "), "
        f"betas {tuple(meta['betas'])}, weight decay {meta['weight_decay']} on every parameter; cross-entropy at `=` only",
        f"- wall time {meta['train_seconds'] / 60:.1f} min on a 2-core CPU shared with other work, one thread "
        "(`torch.set_num_threads(1)`), Debian's torch 1.13 with OpenBLAS",
        f"- `training_log.json`: every {log[1]['step'] - log[0]['step']} steps the loss over the whole training set and the accuracy of the "
        "four groups (`train_clean`, `train_corrupted` against the trained label, `train_corrupted_true`, `test`)",
        f"- checkpoints (same folder format, F16) in `checkpoints/`: {ck}, picked from the log by fixed rules "
        + ("(the first logged step with test ≥ 50%, and with test ≥ 90%)" if twin else
           "(the first logged step with the corrupted labels ≥ 90% memorized, and with test ≥ 95%)"), "",
        "| step | train clean | train corrupted (trained label) | train corrupted (true answer) | test |",
        "|---|---|---|---|---|", rows, "",
        "## Choosing the setting", "",
        *(TWIN_RUNS if twin else MAIN_RUNS), "",
    ]
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write("\n".join(lines))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("name", choices=sorted(PRESETS))
    ap.add_argument("--out", help="output folder (default models/<name>)")
    ap.add_argument("--steps", type=int, help="override the preset's step count (exploration)")
    ap.add_argument("--wd", type=float, help="override the preset's weight decay (exploration)")
    ap.add_argument("--train-frac", type=float, help="override the preset's training fraction (exploration)")
    ap.add_argument("--d-mlp", type=int, help="override the preset's MLP width (exploration)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    preset = dict(PRESETS[args.name])
    if args.train_frac is not None:
        preset["train_frac"] = args.train_frac
    if args.steps:
        preset["steps"] = args.steps
    if args.wd is not None:
        preset["wd"] = args.wd
    if args.d_mlp is not None:
        preset["d_mlp"] = args.d_mlp
    meta, _ = train(args.name, preset, args.out or os.path.join(ROOT, args.name), args.threads)
    print(f"done in {meta['train_seconds']:.0f}s: {json.dumps(meta['final'])}", flush=True)


if __name__ == "__main__":
    main()
