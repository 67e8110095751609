"""A tiny modular-arithmetic model folder for the neuron-lens parity test (test/neurons/reference.test.ts):

    /usr/bin/python3 models/train/make_modular_fixture.py OUT_DIR [--p 11] [--seed 0]

One-layer TransformerLens folder shaped like models/mod-97 (train_modular.py: no LayerNorm, ReLU, learned
positions, untied unembedding with bias, the word-level tokenizer where residue r is id r, then `+`, `=`,
`<pad>`, `<unk>`), smaller (d_model 32, 4 heads of 8, d_mlp 64), with seeded random weights: matrices
N(0, 1/d_model) as train_modular.init_weights, biases N(0, 0.1) so that neurons differ, and neuron 0 of
the MLP dead (b_in −100: hook_post 0 on every pair, an IPR of NaN). The prompts come from the TS generator.

    ... --fit ALL.jsonl [--steps 150]

then trains it briefly (AdamW, full batch, loss at `=` as train_modular.py) on that prompt file's rows with
meta.split train against their `answer`, so that the pruned accuracies the test compares are not all near
zero (the dead neuron stays dead: its gradient is zero).
"""
import json
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checkpoints  # noqa: E402
import train_modular as tm  # noqa: E402
from reference import Reference, Spec  # noqa: E402


def fixture_spec(p):
    return Spec(family="transformer_lens", n_layers=1, d_model=32, n_heads=4, n_kv_heads=4, d_head=8, d_mlp=64,
                d_vocab=len(tm.vocab(p)), n_ctx=5, norm="None", act="relu", pos="standard",
                unembed_bias=True, tied=False)


def fit(model, records, p, steps, lr=1e-2):
    """Full-batch AdamW on the training rows (tm.last_logits: the reference's logits at `=`)."""
    rows = [r for r in records if r["meta"]["split"] == "train"]
    x = torch.tensor([tm.encode(r["prompt"], p) for r in rows])
    y = torch.tensor([tm.encode(r["answer"], p)[0] for r in rows])
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.1)
    for _ in range(steps):
        loss = torch.nn.functional.cross_entropy(tm.last_logits(model, x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    with torch.no_grad():
        return float((tm.last_logits(model, x).argmax(-1) == y).float().mean())


def make(out, p=11, seed=0, records=None, steps=150):
    spec = fixture_spec(p)
    w = tm.init_weights(spec, seed)
    g = torch.Generator().manual_seed(seed + 1)
    for name in w:
        if name.split(".")[-1].startswith("b_"):
            w[name] = 0.1 * torch.randn(w[name].shape, generator=g)
    w["blocks.0.b_in"][0] = -100.0  # a dead neuron
    if records is not None:
        torch.manual_seed(seed)
        model = Reference(spec, w)
        fit(model, records, p, steps)
        w = model.weights()
    checkpoints.save_folder(out, spec, w)
    tm.write_tokenizer(out, p)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--p", type=int, default=11)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--fit", help="a prompt file of the task (meta.split): train briefly on its train rows")
    ap.add_argument("--steps", type=int, default=150)
    a = ap.parse_args()
    torch.set_num_threads(1)
    records = None
    if a.fit:
        with open(a.fit) as f:
            records = [json.loads(line) for line in f if line.strip()]
    print(make(a.out, a.p, a.seed, records, a.steps))


if __name__ == "__main__":
    main()
