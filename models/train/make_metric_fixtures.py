"""Golden fixtures for the TypeScript metrics (src/lib/core/experiments/metrics.ts):

    /usr/bin/python3 models/train/make_metric_fixtures.py [name …]   # default: tiny-gpt2 tiny-llama-gqa

For a parity fixture (test/fixtures/<name>.json, made by make_fixtures.py) this reruns the
reference scans of experiments.py on the same model and prompts, recording the logits of every
forward they make (the model is wrapped, the scan code runs unchanged), and writes
test/fixtures/metrics/<name>.safetensors:
  zero.clean [B,T,V], zero.heads [R,B,T,V] (row r ablates head rows[r]), zero.mlps [L,B,T,V];
  patch.clean, patch.corrupt [B,T,V], patch.heads [R,B,T,V];
  path.heads [R,B,T,V];
and test/fixtures/metrics/<name>.json: n_prompt, answers, cf_first, and experiments.metrics of the
clean and corrupted runs per prompt, plus per answer-position correctness. The scan scores these
logits must reproduce are the parity fixture's scan.* tensors.
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checkpoints  # noqa: E402
import experiments as ex  # noqa: E402
import safetensors_io  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "test", "fixtures")


class Recorder:
    """Forwards to the model and keeps (interventions, logits) of every call."""

    def __init__(self, model):
        self.model, self.spec, self.calls = model, model.spec, []

    def __call__(self, tokens, hooks=(), interventions=None):
        logits, cache = self.model(tokens, hooks=hooks, interventions=interventions)
        self.calls.append((interventions or {}, logits))
        return logits, cache


def recorded(model, scan, *args):
    rec = Recorder(model)
    scan(rec, *args)
    return rec.calls


def position_correct(logits, n_prompt, answers):
    out = []
    for b, ans in enumerate(answers):
        n = int(n_prompt[b])
        out.append([int(logits[b, n - 1 + i].argmax()) == t for i, t in enumerate(ans)])
    return out


@torch.no_grad()
def fixture(name):
    with open(os.path.join(FIXTURES, f"{name}.json")) as f:
        manifest = json.load(f)
    _, model, _ = checkpoints.load_folder(os.path.join(ROOT, manifest["model"]))
    data = ex.encode_set(manifest["prompts"])
    perm = manifest["resample_perm"]
    tensors = {}

    calls = recorded(model, ex.ablation_scan, data, "zero", perm)
    tensors["zero.clean"] = calls[0][1]
    tensors["zero.heads"] = torch.stack([lg for iv, lg in calls if "head_mask" in iv])
    mlps = [lg for iv, lg in calls if "mlp_mask" in iv]
    if mlps:
        tensors["zero.mlps"] = torch.stack(mlps)

    calls = recorded(model, ex.patch_scan, data)
    tensors["patch.clean"], tensors["patch.corrupt"] = calls[0][1], calls[1][1]
    tensors["patch.heads"] = torch.stack([lg for iv, lg in calls if "head_mask" in iv])

    calls = recorded(model, ex.path_patch_scan, data)
    tensors["path.heads"] = torch.stack([lg for iv, lg in calls if "head_mask" in iv])

    args = (data["n_prompt"], data["answers"], data["cf_first"])
    per_prompt = {}
    for run in ("clean", "corrupt"):
        logits = tensors[f"patch.{run}"]
        m = ex.metrics(logits, data[run], *args)
        per_prompt[run] = {k: v.tolist() for k, v in m.items()}
        per_prompt[run]["position_correct"] = position_correct(logits, data["n_prompt"], data["answers"])

    os.makedirs(os.path.join(FIXTURES, "metrics"), exist_ok=True)
    safetensors_io.save({k: v.contiguous() for k, v in tensors.items()}, os.path.join(FIXTURES, "metrics", f"{name}.safetensors"),
                        dtype=torch.float32)
    out = {"fixture": name, "generator": "models/train/make_metric_fixtures.py", "rows": manifest["rows"],
           "n_prompt": data["n_prompt"].tolist(), "answers": data["answers"], "cf_first": data["cf_first"].tolist(),
           "metrics": per_prompt}
    with open(os.path.join(FIXTURES, "metrics", f"{name}.json"), "w") as f:
        json.dump(out, f, indent=1)
    print(f"{name}: {', '.join(f'{k} {list(v.shape)}' for k, v in tensors.items())}", flush=True)


def main():
    torch.set_default_dtype(torch.float64)  # same float64 oracle as make_fixtures.py
    for name in sys.argv[1:] or ["tiny-gpt2", "tiny-llama-gqa"]:
        fixture(name)


if __name__ == "__main__":
    main()
