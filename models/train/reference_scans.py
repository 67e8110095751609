"""Reference eval and scans for prompts tokenized elsewhere (e.g. by Hugging Face's Rust tokenizer in a test):

    /usr/bin/python3 models/train/reference_scans.py MODEL_DIR IN.json OUT.json [MODEL_DIR IN.json OUT.json ...]

(several triples share one start of Python and torch). IN.json:
  {"ids": {text: {"special": [id, ...], "plain": [id, ...]}},   # tokenizer(text) with / without special tokens
   "sets": [{"name": str, "records": [prompt-file records], "perm": [resample permutation],
             "methods": ["zero", "mean", "resample", "patch", "path"],    # any of these; eval always runs
             "alone": bool}]}               # also score the answer encoded alone (the old, wrong tokenization)
The reference tokenizes jointly itself (experiments.encode_set, DESIGN §5) with the ids of `ids`, and
computes in float64 like make_fixtures.py. OUT.json holds, per set name:
  "eval": {"accuracy", "logprob", "per_position_accuracy", "n_prompt", "answers", "correct", "logprobs"}
  "usable": indices of the records whose counterfactual lines up (same prompt token count, a prefix
      split of its own prompt + answer); patch and path run on those, and "left_out" counts the others
  "zero" / "mean" / "resample": experiments.ablation_scan on every record, with logit_diff when every
      record's counterfactual is usable; "patch": patch_scan, "path": path_patch_scan (with the per-prompt
      changes and clean logits), as nested lists
  "alone": {"logprob", "accuracy", "logit_diff", "answers"}: the answer ids = tokenizer(answer) without
      special tokens appended to the prompt ids, as arithlens scored SentencePiece answers (`▁ 4 6`) before.
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checkpoints  # noqa: E402
import experiments as ex  # noqa: E402
from reference_logits import float64, json_jobs  # noqa: E402


def lookup_encoder(ids):
    """encode(text, add_special_tokens) -> ids from a table of precomputed tokenizations."""
    def encode(text, special=True):
        if text not in ids:
            raise KeyError(f"no token ids given for {text!r}")
        return ids[text]["special" if special else "plain"]
    return encode


class AnswerLogits:
    """The model as the scans call it, unembedding only each row's answer positions n_prompt - 1 … (the
    only logits experiments.metrics reads): logits [B, P, V], P = the longest answer. The scans then get
    n_prompt = 1 for every row, so metrics reads position j of row b as n_prompt[b] - 1 + j. Positions
    past a row's end (shorter answers) are clamped into range and never read."""

    def __init__(self, model, data):
        self.model, self.spec = model, model.spec
        P = max(len(a) for a in data["answers"])
        T = data["clean"].shape[1]
        self.at = ((data["n_prompt"] - 1)[:, None] + torch.arange(P)[None]).clamp(max=T - 1)

    def __call__(self, tokens, hooks=(), interventions=None):
        return self.model(tokens, hooks=hooks, interventions=interventions, logits_at=self.at)


def compact(model, data):
    """(model, data) for the scans: answer-position logits only (AnswerLogits), n_prompt = 1."""
    return AnswerLogits(model, data), {**data, "n_prompt": torch.ones_like(data["n_prompt"])}


def plain(x):
    """Tensors (and dicts of them) -> JSON values."""
    if isinstance(x, dict):
        return {k: plain(v) for k, v in x.items()}
    if isinstance(x, torch.Tensor):
        return x.tolist()
    return x


def usable_counterfactual(encode, record):
    """The record's counterfactual lines up with it: its prompt has as many tokens, and both it and the
    clean example split into prompt + answer ids (experiments.encode_scored)."""
    cf = record.get("counterfactual")
    if not cf or "answer" not in cf:
        return False
    try:
        p, _ = ex.encode_scored(encode, record["prompt"], record["answer"])
        cp, _ = ex.encode_scored(encode, cf["prompt"], cf["answer"])
    except ValueError:
        return False
    return len(cp) == len(p)


def without_counterfactual(records):
    return [{k: v for k, v in r.items() if k != "counterfactual"} for r in records]


@torch.no_grad()
def evaluate(model, data):
    """Clean eval: exact match under teacher forcing, summed answer logprob, accuracy per answer position
    (over the prompts whose answer reaches it), per prompt."""
    m, d = compact(model, data)
    logits, _ = m(d["clean"])
    res = ex.metrics(logits, d["clean"], d["n_prompt"], d["answers"])
    P = logits.shape[1]
    hits, counts = [0.0] * P, [0] * P
    for b, ans in enumerate(d["answers"]):
        pred = logits[b, : len(ans)].argmax(-1).tolist()
        for i, t in enumerate(ans):
            hits[i] += float(pred[i] == t)
            counts[i] += 1
    return {"accuracy": float(res["accuracy"].mean()), "logprob": float(res["logprob"].mean()),
            "per_position_accuracy": [h / c for h, c in zip(hits, counts)],
            "n_prompt": data["n_prompt"].tolist(), "answers": data["answers"],
            "correct": res["accuracy"].tolist(), "logprobs": res["logprob"].tolist()}


@torch.no_grad()
def answer_alone(model, encode, records):
    """Scores prompt ids + tokenizer(answer) without special tokens, one row at a time: what arithlens did
    before joint tokenization (a SentencePiece tokenizer then scores `▁ 4 6` for `46`)."""
    lp, acc, ld, answers = [], [], [], []
    for r in records:
        p, a = list(encode(r["prompt"], True)), list(encode(r["answer"], False))
        cf_first = encode(r["counterfactual"]["answer"], False)[0] if "counterfactual" in r else None
        logits, _ = model(torch.tensor([p + a]))
        m = ex.metrics(logits, None, torch.tensor([len(p)]), [a], None if cf_first is None else torch.tensor([cf_first]))
        lp.append(float(m["logprob"][0]))
        acc.append(float(m["accuracy"][0]))
        ld.append(float(m["logit_diff"][0]) if cf_first is not None else None)
        answers.append(a)
    return {"logprob": lp, "accuracy": acc, "logit_diff": ld, "answers": answers}


def run_set(model, encode, req):
    records = req["records"]
    methods = req.get("methods", [])
    out = {}
    full = ex.encode_set(without_counterfactual(records), encode=encode)
    out["eval"] = evaluate(model, full)
    usable = [i for i, r in enumerate(records) if usable_counterfactual(encode, r)]
    out["usable"], out["left_out"] = usable, len(records) - len(usable)
    cf_data = ex.encode_set([records[i] for i in usable], encode=encode) if usable else None
    # ablations score the logit diff too when every prompt has a usable counterfactual (as arithlens does)
    ablated = cf_data if len(usable) == len(records) else full
    for method in ("zero", "mean", "resample"):
        if method in methods:
            out[method] = plain(ex.ablation_scan(*compact(model, ablated), method, req.get("perm")))
    if cf_data is not None:
        if "patch" in methods:
            out["patch"] = plain(ex.patch_scan(*compact(model, cf_data)))
        if "path" in methods:
            out["path"] = plain(ex.path_patch_scan(*compact(model, cf_data)))
    if req.get("alone"):
        out["alone"] = answer_alone(model, encode, records)
    return out


def reference_scans(folder, request):
    with float64():
        _, model, _ = checkpoints.load_folder(folder)
        encode = lookup_encoder(request["ids"])
        return {req["name"]: run_set(model, encode, req) for req in request["sets"]}


def main(argv):
    return json_jobs(argv, __doc__, reference_scans)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
