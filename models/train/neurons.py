"""PyTorch/numpy reference of the neuron lens (DESIGN.md §10), the oracle src/lib/core/experiments/neurons.ts
and fourier.ts are compared against (test/neurons/reference.test.ts through reference_neurons.py).

- activation grid of MLP neuron (l, i): A[a * p + b] = blocks.{l}.mlp.hook_post[..., i] at the last prompt
  position, the model run on the prompt tokens alone (Reference.forward hooks), for every pair of a full
  modular prompt set (meta.a, meta.b; p = meta.p or √n; each pair exactly once);
- spectrum F = |fft2(A − mean A)| in float64 (numpy.fft);
- IPR_r = Σ_k (F_k / ‖F‖₂)^(2r); a dead neuron (zero power) has IPR NaN;
- dominant pair: of a pair (ka, kb) and its conjugate ((p − ka) % p, (p − kb) % p) the one reported is the
  first in row-major order, and its power share counts both (a self-conjugate pair counts once); ties go to
  the first in row-major order;
- pruning: the model run on prompt + answer rows (teacher forcing; DESIGN §5 accuracy: every answer token is
  the argmax) with a set of neurons ablated through the reference's `mlp_mask` [B, L, M] / `mlp_repl`
  [B, L, T, M] — zero, or the mean hook_post of the whole set per absolute position and neuron (over the
  prompts that have that position, experiments.position_mean), the same mean for the rows scored against
  the true labels; accuracy per group: train_clean, train_corrupted (against the trained `answer`),
  train_corrupted_true (the corrupted rows against meta.true_answer) and test, plus all.
"""
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import experiments as ex  # noqa: E402

GROUPS = ("train_clean", "train_corrupted", "train_corrupted_true", "test")


# -- layout -------------------------------------------------------------------------------------
def modular_layout(records):
    """-> (p, record_of [p²] record index of pair a * p + b, groups {group: [record index]} or None when the
    records carry no split). Raises ValueError for a set that is not every pair exactly once."""
    metas = [r.get("meta") or {} for r in records]
    for i, m in enumerate(metas):
        if not isinstance(m.get("a"), int) or not isinstance(m.get("b"), int):
            raise ValueError(f"record {i + 1} has no integer meta.a and meta.b")
    p = metas[0]["p"] if isinstance(metas[0].get("p"), int) else round(math.sqrt(len(records)))
    if p * p != len(records):
        raise ValueError(f"{len(records)} records, not the p² = {p * p} pairs of p = {p}")
    record_of = [-1] * (p * p)
    for i, m in enumerate(metas):
        a, b = m["a"], m["b"]
        if not (0 <= a < p and 0 <= b < p):
            raise ValueError(f"record {i + 1}: ({a}, {b}) are not residues mod {p}")
        if record_of[a * p + b] >= 0:
            raise ValueError(f"pair ({a}, {b}) appears twice")
        record_of[a * p + b] = i
    has_split = all(m.get("split") in ("train", "test") and isinstance(m.get("corrupted"), bool)
                    and isinstance(m.get("true_answer"), str) for m in metas)
    if not has_split:
        return p, record_of, None
    groups = {g: [] for g in GROUPS}
    for i, m in enumerate(metas):
        if m["split"] == "test":
            groups["test"].append(i)
        elif m["corrupted"]:
            groups["train_corrupted"].append(i)
            groups["train_corrupted_true"].append(i)
        else:
            groups["train_clean"].append(i)
    return p, record_of, groups


# -- grids and spectra --------------------------------------------------------------------------
@torch.no_grad()
def activation_grids(model, encode, records, layers=None, batch=2048):
    """{layer: float64 array [M, p²]}: hook_post at the last prompt position of the prompt alone (its ids
    with the tokenizer's special tokens), column a * p + b. encode(text, special) -> ids."""
    s = model.spec
    layers = list(range(s.n_layers)) if layers is None else list(layers)
    p, record_of, _ = modular_layout(records)
    pair_of = {rec: k for k, rec in enumerate(record_of)}
    names = [f"blocks.{l}.mlp.hook_post" for l in layers]
    grids = {l: np.zeros((s.d_mlp, p * p)) for l in layers}
    by_length = {}
    for i, r in enumerate(records):
        ids = list(encode(r["prompt"], True))
        by_length.setdefault(len(ids), []).append((i, ids))
    for T, rows in by_length.items():
        for start in range(0, len(rows), batch):
            chunk = rows[start:start + batch]
            _, cache = model(torch.tensor([ids for _, ids in chunk]), hooks=names)
            cols = [pair_of[i] for i, _ in chunk]
            for l, name in zip(layers, names):
                grids[l][:, cols] = cache[name][:, T - 1].double().numpy().T
    return grids


def spectrum(grid, p):
    """|DFT2(A − mean A)| of a p × p grid (A[a * p + b], flat or [p, p]) as a float64 [p, p] array."""
    A = np.asarray(grid, dtype=np.float64).reshape(p, p)
    return np.abs(np.fft.fft2(A - A.mean()))


def conjugate_index(p):
    """[p²]: the flat index of ((p − ka) % p, (p − kb) % p) for each flat index ka * p + kb."""
    k = np.arange(p)
    c = (p - k) % p
    return (c[:, None] * p + c[None, :]).reshape(-1)


def summarize(F, p, r=2):
    """(IPR_r, (ka, kb), power share, runner-up share) of a spectrum. The pair is the first in row-major order of
    itself and its conjugate, its power both of theirs; ties go to the first in row-major order. The runner-up
    share is that of the best other pair (how near the choice is to a tie). Zero power -> NaNs, pair (0, 0)."""
    P = np.asarray(F, dtype=np.float64).reshape(-1) ** 2
    power = P.sum()
    if not power > 0:
        return math.nan, (0, 0), math.nan, math.nan
    share = P / power
    ipr = float((share ** r).sum())
    conj = conjugate_index(p)
    k = np.arange(p * p)
    pair = np.where(conj == k, P, P + P[conj])
    pair = np.where(conj >= k, pair, -np.inf)  # the conjugate came first and holds this pair
    best = int(np.argmax(pair))  # the first of equal maxima
    rest = pair.copy()
    rest[best] = -np.inf
    runner = float(rest.max() / power) if np.isfinite(rest.max()) else 0.0
    return ipr, (best // p, best % p), float(pair[best] / power), runner


def neuron_summaries(grids, p, r=2):
    """[{"layer", "neuron", "ipr", "freq", "power_share", "runner_up_share"}] layer by layer."""
    out = []
    for l, G in grids.items():
        for i in range(G.shape[0]):
            ipr, freq, share, runner = summarize(spectrum(G[i], p), p, r)
            out.append({"layer": l, "neuron": i, "ipr": ipr, "freq": list(freq), "power_share": share,
                        "runner_up_share": runner})
    return out


# -- pruning ------------------------------------------------------------------------------------
def _correct(model, data, mask, repl, batch):
    """Per row: every answer token is the argmax (teacher forcing, as experiments.metrics' accuracy) with
    hook_post ablated by mask [L, M] / repl [L, T, M]. Rows are cut after their last scored position (no
    later token reaches it: attention is causal); logits only at the scored positions."""
    N = data["clean"].shape[0]
    n = data["n_prompt"]
    lens = torch.tensor([len(a) for a in data["answers"]])
    T = int((n + lens - 1).max())
    Pn = int(lens.max())
    target = torch.full((N, Pn), -1, dtype=torch.long)
    for b, a in enumerate(data["answers"]):
        target[b, :len(a)] = torch.tensor(a)
    at = ((n - 1)[:, None] + torch.arange(Pn)[None]).clamp(max=T - 1)
    out = torch.zeros(N, dtype=torch.bool)
    for start in range(0, N, batch):
        sl = slice(start, min(N, start + batch))
        B = sl.stop - sl.start
        iv = None
        if mask is not None:
            iv = {"mlp_mask": mask[None].expand(B, -1, -1), "mlp_repl": repl[None, :, :T].expand(B, -1, -1, -1)}
        logits, _ = model(data["clean"][sl, :T], interventions=iv, logits_at=at[sl])
        tgt = target[sl]
        out[sl] = ((logits.argmax(-1) == tgt) | (tgt < 0)).all(-1)
    return out.double()


class PruneScorer:
    """Accuracy per group of the model with neuron sets ablated, as neurons.ts's PruneScorer scores them."""

    def __init__(self, model, encode, records, ablation="zero", batch=1024):
        if ablation not in ("zero", "mean"):
            raise ValueError(f"ablation {ablation!r} is not zero or mean")
        self.model, self.ablation, self.batch = model, ablation, batch
        self.p, _, self.groups = modular_layout(records)
        plain = [{"prompt": r["prompt"], "answer": r["answer"]} for r in records]
        self.data = ex.encode_set(plain, encode=encode)
        self.true_rows = self.groups["train_corrupted_true"] if self.groups else []
        true = [{"prompt": records[i]["prompt"], "answer": records[i]["meta"]["true_answer"]} for i in self.true_rows]
        self.true_data = ex.encode_set(true, encode=encode) if true else None
        s = model.spec
        if ablation == "mean":
            with torch.no_grad():  # [B, L, T, M], in batches
                post = torch.cat([ex.post_of(model, t) for t in self.data["clean"].split(batch)])
            self.repl = ex.position_mean(post, self.data["lengths"], t_axis=2)  # [L, T, M]
        else:
            self.repl = torch.zeros(s.n_layers, self.data["clean"].shape[1], s.d_mlp)
        if self.true_data is not None and self.true_data["clean"].shape[1] > self.repl.shape[1]:
            raise ValueError("a true answer is longer than every trained one: no mean at its positions")

    @torch.no_grad()
    def correct(self, neurons):
        """(per-row correctness on the trained labels, on the true labels of the corrupted rows) with the
        neurons [(layer, neuron)] ablated."""
        s = self.model.spec
        mask = None
        if neurons:
            mask = torch.ones(s.n_layers, s.d_mlp)
            for l, i in neurons:
                mask[l, i] = 0
        trained = _correct(self.model, self.data, mask, self.repl, self.batch)
        true = _correct(self.model, self.true_data, mask, self.repl, self.batch) if self.true_data is not None else None
        return trained, true

    def score(self, neurons):
        """{"all", "train_clean", "train_corrupted", "train_corrupted_true", "test"}: accuracy (None for an
        empty group), plus "counts": the number of correct rows of each."""
        trained, true = self.correct(neurons)
        rows = {"all": list(range(len(trained)))}
        if self.groups:
            rows.update({g: self.groups[g] for g in ("train_clean", "train_corrupted", "test")})
        out, counts = {}, {}
        for g, idx in rows.items():
            counts[g] = int(trained[idx].sum()) if idx else 0
            out[g] = counts[g] / len(idx) if idx else None
        if self.groups is not None:
            counts["train_corrupted_true"] = int(true.sum()) if true is not None else 0
            out["train_corrupted_true"] = counts["train_corrupted_true"] / len(true) if true is not None else None
        out["counts"] = counts
        return out
