"""Reference residual-stream views (DESIGN.md §11, residual.py) for prompts tokenized elsewhere:

    /usr/bin/python3 models/train/reference_residual.py MODEL_DIR IN.json OUT.json [MODEL_DIR IN.json OUT.json ...]

(several triples share one start of Python and torch). IN.json:
  {"ids": {text: {"special": [id, ...], "plain": [id, ...]}},   # as reference_scans.py
   "sets": [{"name": str, "records": [prompt-file records], "attribute": bool, "edges": bool}]}
Tokenized jointly (experiments.encode_set, DESIGN §5) with the ids of `ids`, in float64. Records whose
counterfactual does not line up (reference_scans.usable_counterfactual) are left out of the logit diff and
the edges; a set with none usable has logit_diff null and no "edges". OUT.json holds, per set name:
  "attribute": {"positions": [{"index": i, "n": prompts with answer position i,
       "logit": mean clean logit of the answer token, "logit_diff": mean clean logit diff over the usable
       prompts (i == 0; else null),
       "components": [{"name", "logit": mean, "logit_diff": mean over the usable prompts (i == 0) or null}],
       "lens": [{"layer": 0..L, "logprob": mean, "rank": mean}]}], "usable": indices}
     components in the order embed, pos_embed, L{l}H0..L{l}H{H-1}, L{l}.b_O, MLP{l} per layer, constant;
     means over the prompts that have that answer position.
  "edges": {"heads": [L][H][L][H], "mlps": [L][H][L], "logits": [L][H] (null where no edge),
       "per_prompt": {"heads", "mlps", "logits"} with a last axis over the usable prompts,
       "answer_logit": their clean logits, "usable": indices}
"""
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checkpoints  # noqa: E402
import experiments as ex  # noqa: E402
import residual  # noqa: E402
from reference_logits import float64, json_jobs  # noqa: E402
from reference_scans import compact, lookup_encoder, usable_counterfactual, without_counterfactual  # noqa: E402


def nulls(x):
    """Tensors (and dicts of them) -> JSON values, NaN -> null (JSON has no NaN)."""
    if isinstance(x, dict):
        return {k: nulls(v) for k, v in x.items()}
    if isinstance(x, torch.Tensor):
        return nulls(x.tolist())
    if isinstance(x, list):
        return [nulls(v) for v in x]
    if isinstance(x, float) and math.isnan(x):
        return None
    return x


def mean_or_null(x):
    """Mean of a 1-d tensor, null when empty."""
    return float(x.mean()) if x.numel() else None


def cf_first_of(encode, records, usable):
    """[B] first answer token of each usable record's counterfactual (its own joint tail), -1 elsewhere."""
    out = [-1] * len(records)
    for i in usable:
        cf = records[i]["counterfactual"]
        out[i] = ex.encode_scored(encode, cf["prompt"], cf["answer"])[1][0]
    return torch.tensor(out)


def attribute_json(model, data, cf_first):
    """attribute + logit_lens averaged per answer position over the prompts that have it."""
    attr = residual.attribute(model, data, cf_first)
    lens = residual.logit_lens(model, data)
    ok = cf_first >= 0
    positions = []
    for i in range(attr["has"].shape[1]):
        rows = attr["has"][:, i]
        diff = lambda c: mean_or_null(attr["diff_components"][ok, c]) if i == 0 else None
        comps = [{"name": name, "logit": float(attr["components"][rows, i, c].mean()), "logit_diff": diff(c)}
                 for c, name in enumerate(attr["names"])]
        layers = [{"layer": l, "logprob": float(lens["logprob"][l, rows, i].mean()),
                   "rank": float(lens["rank"][l, rows, i].mean())} for l in range(lens["logprob"].shape[0])]
        positions.append({"index": i, "n": int(rows.sum()), "logit": float(attr["logit"][rows, i].mean()),
                          "logit_diff": mean_or_null(attr["logit_diff"][ok]) if i == 0 else None,
                          "components": comps, "lens": layers})
    return {"positions": positions, "usable": ok.nonzero()[:, 0].tolist()}


def run_set(model, encode, req):
    records = req["records"]
    usable = [i for i, r in enumerate(records) if usable_counterfactual(encode, r)]
    out = {}
    if req.get("attribute"):
        full = ex.encode_set(without_counterfactual(records), encode=encode)
        out["attribute"] = attribute_json(model, full, cf_first_of(encode, records, usable))
    if req.get("edges") and usable:
        cf_data = ex.encode_set([records[i] for i in usable], encode=encode)
        out["edges"] = {**nulls(residual.edge_scan(*compact(model, cf_data))), "usable": usable}
    return out


def reference_residual(folder, request):
    with float64():
        _, model, _ = checkpoints.load_folder(folder)
        encode = lookup_encoder(request["ids"])
        return {req["name"]: run_set(model, encode, req) for req in request["sets"]}


def main(argv):
    # allow_nan=False: a NaN left anywhere is a bug, not a JSON extension
    return json_jobs(argv, __doc__, reference_residual, allow_nan=False)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
