"""Reference logits for token ids chosen elsewhere (e.g. by Hugging Face's Rust tokenizer in a test):

    /usr/bin/python3 models/train/reference_logits.py MODEL_DIR IN.json OUT.safetensors [MODEL_DIR IN.json OUT ...]

(several triples share one start of Python and torch). IN.json is {"tokens": [[id, ...], ...], "hooks": [hook name, ...]} (hooks optional); rows may differ in
length and run one at a time. OUT.safetensors holds `logits.<i>` [T_i, V] and `<i>.<hook>` (batch
dimension dropped) for each row i, computed in float64 from the checkpoint's weights, stored as float32.
"""
import contextlib
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checkpoints  # noqa: E402
import safetensors_io  # noqa: E402


@torch.no_grad()
def reference_logits(folder, rows, hooks=()):
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # as make_fixtures: compare float32 engines with the exact values
    try:
        _, model, _ = checkpoints.load_folder(folder)
        out = {}
        for i, ids in enumerate(rows):
            logits, cache = model(torch.tensor([ids], dtype=torch.int64), hooks=hooks)
            out[f"logits.{i}"] = logits[0]
            for h in hooks:
                out[f"{i}.{h}"] = cache[h][0]
        return out
    finally:
        torch.set_default_dtype(previous)


def each_job(argv, doc):
    """MODEL_DIR IN.json OUT triples of a command line -> (folder, parsed IN.json, OUT) each, so one start of
    Python and torch serves them all; None (after printing the usage line of `doc`) when argv is not triples."""
    if not argv or len(argv) % 3:
        print(doc.strip().split("\n\n")[1], file=sys.stderr)
        return None
    jobs = []
    for folder, inp, outp in zip(argv[0::3], argv[1::3], argv[2::3]):
        with open(inp) as f:
            jobs.append((folder, json.load(f), outp))
    return jobs


@contextlib.contextmanager
def float64():
    """Compute in float64 inside (as make_fixtures): the exact values the float32 engines are compared with."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def json_jobs(argv, doc, compute, allow_nan=True):
    """The command line of the JSON references: each MODEL_DIR IN.json OUT.json triple (each_job) answered
    with compute(folder, request), written to OUT.json whole or not at all. Returns the exit status."""
    jobs = each_job(argv, doc)
    if jobs is None:
        return 2
    for folder, request, outp in jobs:
        out = compute(folder, request)
        with open(outp + ".tmp", "w") as f:
            json.dump(out, f, allow_nan=allow_nan)
        os.replace(outp + ".tmp", outp)
    return 0


def main(argv):
    jobs = each_job(argv, __doc__)
    if jobs is None:
        return 2
    for folder, request, outp in jobs:
        out = reference_logits(folder, request["tokens"], request.get("hooks", []))
        safetensors_io.save(out, outp, dtype=torch.float32)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
