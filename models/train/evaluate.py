"""Measure a model folder on its held-out prompt file with the reference, and write its model card.

    /usr/bin/python3 models/train/evaluate.py models/add-3d [--card]

Accuracy is teacher-forced exact match (every answer token is the argmax), which equals greedy
exact match; also per answer position, mean answer logprob, and per subtask for multiplication.
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checkpoints  # noqa: E402
import tokenizer as tok  # noqa: E402


@torch.no_grad()
def evaluate(folder, batch=500):
    spec, model, _ = checkpoints.load_folder(folder)
    with open(os.path.join(folder, "heldout.jsonl")) as f:
        records = [json.loads(line) for line in f]
    n_correct, logprob, pos_hits, pos_n, sub_hits, sub_n = 0, 0.0, {}, {}, {}, {}
    for i in range(0, len(records), batch):
        chunk = records[i:i + batch]
        seqs = [(tok.encode(r["prompt"]), tok.encode(r["answer"], add_special_tokens=False)) for r in chunk]
        T = max(len(p) + len(a) for p, a in seqs)
        ids = torch.full((len(chunk), T), tok.PAD, dtype=torch.long)
        for b, (p, a) in enumerate(seqs):
            ids[b, :len(p) + len(a)] = torch.tensor(p + a)
        logp = model(ids)[0].log_softmax(-1)
        for b, ((p, a), r) in enumerate(zip(seqs, chunk)):
            pos = torch.arange(len(p) - 1, len(p) - 1 + len(a))
            hit = logp[b, pos].argmax(-1) == torch.tensor(a)
            n_correct += int(hit.all())
            logprob += logp[b, pos, torch.tensor(a)].sum().item()
            for j, h in enumerate(hit.tolist()):
                pos_hits[j] = pos_hits.get(j, 0) + h
                pos_n[j] = pos_n.get(j, 0) + 1
            for j, cls in enumerate(r.get("meta", {}).get("subtasks", [])):
                sub_hits[cls] = sub_hits.get(cls, 0) + hit[j].item()
                sub_n[cls] = sub_n.get(cls, 0) + 1
    n = len(records)
    return {"n": n, "accuracy": n_correct / n, "logprob": logprob / n,
            "per_position_accuracy": [pos_hits[j] / pos_n[j] for j in sorted(pos_n)],
            "per_position_n": [pos_n[j] for j in sorted(pos_n)],
            "per_subtask_accuracy": {k: sub_hits[k] / sub_n[k] for k in sorted(sub_n)},
            "per_subtask_n": {k: sub_n[k] for k in sorted(sub_n)}, "params": sum(p.numel() for p in model.parameters()),
            "spec": spec.to_dict()}


FORMATS = {
    "add": ("`a+b=` with a, b in 0..999 written without padding; the answer is a+b, most-significant digit "
            "first, followed by `<eos>`. Example: prompt `123+45=`, answer `168<eos>`. The tokenizer is "
            "character-level and its post-processor prepends `<bos>`."),
    "mul": ("`aa*bb=` with a, b in 0..99 zero-padded to 2 digits; the answer is a*b zero-padded to 4 digits "
            "and written least-significant digit first (Qiu et al.'s reversed format), no `<eos>`. Example: "
            "prompt `07*35=`, answer `5420` (245 = 0245 reversed). Character-level tokenizer; `<bos>` "
            "prepended by the post-processor."),
}


def write_card(folder, result):
    with open(os.path.join(folder, "train_meta.json")) as f:
        meta = json.load(f)
    s = result["spec"]
    op = "mul" if meta["name"].startswith("mul") else "add"
    pct = lambda x: f"{100 * x:.2f}%"  # noqa: E731
    lines = [
        f"# {meta['name']}", "",
        f"A {s['family']} transformer trained from scratch by arithlens on {'2-digit multiplication' if op == 'mul' else '3-digit addition'}.",
        "", "## Format", "", FORMATS[op], "",
        "## Architecture", "",
        f"- family `{s['family']}`: {s['n_layers']} layers, {s['n_heads']} query heads, {s['n_kv_heads']} key/value heads, "
        f"d_model {s['d_model']}, d_head {s['d_head']}, d_mlp {s['d_mlp']}, vocab {s['d_vocab']}, context {s['n_ctx']}",
        f"- norm {s['norm']}, activation {s['act']}{' (gated, SwiGLU)' if s['gated'] else ''}, positions {s['pos']}"
        f"{', rotary dim ' + str(s['rotary_dim']) if s['pos'] == 'rotary' else ''}, "
        f"{'tied' if s['tied'] else 'untied'} unembedding",
        f"- {result['params']:,} parameters, float32 safetensors", "",
        "## Held-out accuracy", "",
        f"Measured by the PyTorch reference on `heldout.jsonl` ({result['n']} prompts that training never saw; "
        f"{meta['heldout_problems']} problems were held out of training in all):", "",
        f"- exact match: **{pct(result['accuracy'])}**",
        f"- mean answer log-probability: {result['logprob']:.4f}",
        "- per answer position: " + ", ".join(pct(x) for x in result["per_position_accuracy"]),
    ]
    if result["per_subtask_accuracy"]:
        lines.append("- per subtask (answer digits of each class): " + ", ".join(
            f"{k} {pct(v)} (n={result['per_subtask_n'][k]})" for k, v in result["per_subtask_accuracy"].items()))
    lines += ["", "Re-measure with:", "", "```sh", f"/usr/bin/python3 models/train/evaluate.py models/{meta['name']}", "```",
              "", "## Training", "",
              f"- command: `{meta['command']}` (seed {meta['seed']}, fixed in the preset)",
              f"- {meta['steps']} steps of batch {meta['batch']}, AdamW lr {meta['lr']} (warm-up then cosine), "
              f"weight decay {meta['weight_decay']}; loss on answer tokens only",
              f"- {meta['train_problems']:,} training problems; training took {meta['train_seconds'] / 60:.1f} min on a "
              "2-core CPU (one thread, Debian's torch 1.13 with OpenBLAS) while two other trainings and test suites shared "
              f"the machine; alone, a step of this size measured about 0.14 s, i.e. about {meta['steps'] * 0.14 / 60:.0f} min "
              "for the whole run",
              "- `training_log.json` holds, per step, the loss, the loss and accuracy per answer position"
              + (", the loss per multiplication subtask (BM, CM, Carry, UC, US10)" if op == "mul" else "")
              + f", and every 250 steps the exact match on {min(2000, meta['heldout_problems']):,} held-out problems",
              ]
    if os.path.isdir(os.path.join(folder, "checkpoints")):
        steps = sorted(os.listdir(os.path.join(folder, "checkpoints")), key=lambda d: int(d.split("-")[-1]))
        lines.append(f"- intermediate checkpoints (same folder format) in `checkpoints/`: {', '.join(steps)}")
    with open(os.path.join(folder, "README.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(folder, "eval.json"), "w") as f:
        json.dump({k: v for k, v in result.items() if k != "spec"}, f, indent=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder")
    ap.add_argument("--card", action="store_true", help="write README.md and eval.json into the folder")
    args = ap.parse_args()
    torch.set_num_threads(1)
    result = evaluate(args.folder)
    print(json.dumps({k: v for k, v in result.items() if k != "spec"}, indent=1))
    if args.card:
        write_card(args.folder, result)


if __name__ == "__main__":
    main()
