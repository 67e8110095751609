"""Reference neuron lens (DESIGN §10) for prompts tokenized elsewhere (test/neurons/reference.test.ts):

    /usr/bin/python3 models/train/reference_neurons.py MODEL_DIR IN.json OUT.json [MODEL_DIR IN.json OUT.json ...]

(several triples share one start of Python and torch). IN.json:
  {"ids": {text: {"special": [id, ...], "plain": [id, ...]}},  # tokenizer(text) with / without special tokens:
                                        # every prompt, prompt + answer and prompt + meta.true_answer
   "records": [prompt-file records of a full modular set],    # meta a, b (split, corrupted, true_answer)
   "r": 2,                              # IPR exponent (default 2)
   "layers": [l, ...],                  # optional: the blocks whose neurons to summarize (default all)
   "ablation": "zero" | "mean",         # how a pruned neuron is ablated (default zero)
   "sets": [[[layer, neuron], ...], ...],  # neuron sets to prune, each scored per group (a repeated set once)
   "lens": true}                        # optional: false skips the grids and spectra ("neurons": [])
Computed in float64 (neurons.py). OUT.json:
  {"p": p,
   "neurons": [{"layer", "neuron", "ipr", "freq": [ka, kb], "power_share", "runner_up_share"}]  (null for NaN;
       runner_up_share: the best other pair's share, to tell a near-tie),
   "groups": [per set: {"all", "train_clean", "train_corrupted", "train_corrupted_true", "test": accuracy
       (null for an empty group), "counts": {group: correct rows}}]}
"""
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checkpoints  # noqa: E402
import neurons as nl  # noqa: E402
from reference_logits import float64, json_jobs  # noqa: E402
from reference_scans import lookup_encoder  # noqa: E402


def finite(x):
    return None if isinstance(x, float) and math.isnan(x) else x


def reference_neurons(folder, request):
    with float64():
        _, model, _ = checkpoints.load_folder(folder)
        encode = lookup_encoder(request["ids"])
        records = request["records"]
        p, _, _ = nl.modular_layout(records)
        out = {"p": p, "neurons": [], "groups": []}
        if request.get("lens", True):
            grids = nl.activation_grids(model, encode, records, request.get("layers"))
            summaries = nl.neuron_summaries(grids, p, request.get("r", 2))
            out["neurons"] = [{k: finite(v) for k, v in n.items()} for n in summaries]
        if request.get("sets"):
            scorer = nl.PruneScorer(model, encode, records, request.get("ablation", "zero"))
            done = {}
            for s in request["sets"]:
                key = tuple(sorted({(int(l), int(i)) for l, i in s}))
                if key not in done:
                    done[key] = scorer.score(list(key))
                out["groups"].append(done[key])
        return out


def main(argv):
    torch.set_num_threads(int(os.environ.get("ARITHLENS_TORCH_THREADS", "1")))
    return json_jobs(argv, __doc__, reference_neurons, allow_nan=False)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
