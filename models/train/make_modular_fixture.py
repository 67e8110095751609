"""A tiny modular-arithmetic model folder for the neuron-lens parity test (test/neurons/reference.test.ts):

    /usr/bin/python3 models/train/make_modular_fixture.py OUT_DIR [--p 11] [--seed 0]

One-layer TransformerLens folder shaped like models/mod-97 (train_modular.py: no LayerNorm, ReLU, learned
positions, untied unembedding with bias, the word-level tokenizer where residue r is id r, then `+`, `=`,
`<pad>`, `<unk>`), smaller (d_model 32, 4 heads of 8, d_mlp 64), with seeded random weights: matrices
N(0, 1/d_model) as train_modular.init_weights, biases N(0, 0.1) so that neurons differ, and neuron 0 of
the MLP dead (b_in −100: hook_post 0 on every pair, an IPR of NaN). The prompts come from the TS generator.
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checkpoints  # noqa: E402
import train_modular as tm  # noqa: E402
from reference import Spec  # noqa: E402


def fixture_spec(p):
    return Spec(family="transformer_lens", n_layers=1, d_model=32, n_heads=4, n_kv_heads=4, d_head=8, d_mlp=64,
                d_vocab=len(tm.vocab(p)), n_ctx=5, norm="None", act="relu", pos="standard",
                unembed_bias=True, tied=False)


def make(out, p=11, seed=0):
    spec = fixture_spec(p)
    w = tm.init_weights(spec, seed)
    g = torch.Generator().manual_seed(seed + 1)
    for name in w:
        if name.split(".")[-1].startswith("b_"):
            w[name] = 0.1 * torch.randn(w[name].shape, generator=g)
    w["blocks.0.b_in"][0] = -100.0  # a dead neuron
    checkpoints.save_folder(out, spec, w)
    tm.write_tokenizer(out, p)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--p", type=int, default=11)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    print(make(a.out, a.p, a.seed))


if __name__ == "__main__":
    main()
