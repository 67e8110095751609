"""Reference metrics and scans (DESIGN.md §4–§5): what the TypeScript experiments must reproduce.

Clean run: tokenizer(prompt + answer), teacher-forced; the answer tokens are its tail after
tokenizer(prompt). Corrupted run: the counterfactual prompt with the clean answer tokens appended
(counterfactuals keep the token count, so positions line up). Sets of several lengths are right-padded;
mean and resample ablation then use only the positions each prompt has. Every scan is a batch of
intervention rows, one component per row, exactly as the engine folds them.
"""
import random

import torch

import tokenizer as tok


def encode_scored(encode, prompt, answer):
    """One tokenization of a scored example (DESIGN §5): (prompt ids, answer ids) where the answer ids are
    the tail of encode(prompt + answer) after encode(prompt), both with the tokenizer's special tokens.
    encode(text, add_special_tokens) -> ids. Raises ValueError when the prompt ids are no prefix."""
    p = list(encode(prompt, True))
    seq = list(encode(prompt + answer, True))
    if seq[:len(p)] != p:
        raise ValueError(f"prompt {prompt!r} with answer {answer!r}: the prompt's tokens {p} are not a prefix of "
                         f"the joint tokens {seq}")
    if len(seq) == len(p):
        raise ValueError(f"prompt {prompt!r}: the answer {answer!r} adds no tokens after the prompt")
    return p, seq[len(p):]


def encode_set(records, encode=tok.encode, pad_id=0):
    """records (prompt-file dicts) -> dict of tensors. Each example is tokenized jointly (encode_scored);
    the corrupted row is the counterfactual prompt's ids + the clean answer ids, and the logit-diff target
    is the first token of the counterfactual's own joint tail. Rows of different lengths are right-padded
    with pad_id: attention is causal, so padding after a row's scored positions never reaches them;
    `lengths` holds each row's real length (the positions mean ablation may average over)."""
    clean, corrupt, n_prompt, answers, cf_first = [], [], [], [], []
    for r in records:
        p, a = encode_scored(encode, r["prompt"], r["answer"])
        clean.append(p + a)
        n_prompt.append(len(p))
        answers.append(a)
        if "counterfactual" in r:
            cf = r["counterfactual"]
            cp, ca = encode_scored(encode, cf["prompt"], cf["answer"])
            if len(cp) != len(p):
                raise ValueError(f"prompt {r['prompt']!r}: its counterfactual {cf['prompt']!r} has {len(cp)} tokens, "
                                 f"not {len(p)}; positions must line up")
            corrupt.append(cp + a)
            cf_first.append(ca[0])
    lengths = [len(s) for s in clean]
    T = max(lengths)
    padded = lambda rows: torch.tensor([row + [pad_id] * (T - len(row)) for row in rows])
    out = {"clean": padded(clean), "n_prompt": torch.tensor(n_prompt), "answers": answers,
           "lengths": torch.tensor(lengths)}
    if corrupt:
        if len(corrupt) != len(clean):
            raise ValueError("either every record has a counterfactual or none has")
        out["corrupt"] = padded(corrupt)
        out["cf_first"] = torch.tensor(cf_first)
    return out


def metrics(logits, tokens, n_prompt, answers, cf_first=None):
    """Per-prompt logprob (sum over answer tokens), correct (all answer tokens argmax), first-answer
    logit, and logit diff against the counterfactual's first answer token."""
    logp = logits.log_softmax(-1)
    B = logits.shape[0]
    lp, correct, first_logit, ldiff = [], [], [], []
    for b in range(B):
        n, ans = int(n_prompt[b]), answers[b]
        pos = torch.arange(n - 1, n - 1 + len(ans))
        tgt = torch.tensor(ans)
        lp.append(logp[b, pos, tgt].sum())
        correct.append(float((logits[b, pos].argmax(-1) == tgt).all()))
        first_logit.append(logits[b, n - 1, ans[0]])
        if cf_first is not None:
            ldiff.append(logits[b, n - 1, ans[0]] - logits[b, n - 1, int(cf_first[b])])
    out = {"logprob": torch.stack(lp), "accuracy": torch.tensor(correct), "answer_logit": torch.stack(first_logit)}
    if cf_first is not None:
        out["logit_diff"] = torch.stack(ldiff)
    return out


def z_of(model, tokens):
    """Clean z of every layer stacked as the intervention replacement layout [B, L, H, T, dh]."""
    s = model.spec
    names = [f"blocks.{l}.attn.hook_z" for l in range(s.n_layers)]
    _, cache = model(tokens, hooks=names)
    return torch.stack([cache[n].permute(0, 2, 1, 3) for n in names], 1)


def post_of(model, tokens):
    s = model.spec
    names = [f"blocks.{l}.mlp.hook_post" for l in range(s.n_layers)]
    _, cache = model(tokens, hooks=names)
    return torch.stack([cache[n] for n in names], 1)  # [B, L, T, M]


def head_rows(s):
    return [(l, h) for l in range(s.n_layers) for h in range(s.n_heads)]


def head_batch(s, T, repl_for_row, rows):
    """One intervention row per head: that head takes its replacement, all else kept."""
    R = len(rows)
    mask = torch.ones(R, s.n_layers, s.n_heads)
    repl = torch.zeros(R, s.n_layers, s.n_heads, T, s.d_head)
    for i, (l, h) in enumerate(rows):
        mask[i, l, h] = 0
        repl[i, l, h] = repl_for_row(i, l, h)
    return mask, repl


def position_mean(x, lengths=None, t_axis=3):
    """Mean over the prompt set (axis 0) per absolute position, over the prompts that have that position
    (DESIGN §4): position t averages the rows with lengths > t. x: z [B, L, H, T, dh] (t_axis 3) or MLP
    post [B, L, T, M] (t_axis 2). Positions no row has (none here: T is the longest row) would be 0."""
    if lengths is None or bool((lengths == x.shape[t_axis]).all()):
        return x.mean(0)  # every row has every position
    T = x.shape[t_axis]
    has = (torch.arange(T)[None] < lengths[:, None]).to(x.dtype)  # [B, T]
    shape = [x.shape[0]] + [1] * (x.dim() - 1)
    shape[t_axis] = T
    has = has.reshape(shape)
    return (x * has).sum(0) / has.sum(0).clamp(min=1)


def mean_z(z, lengths=None):
    """Mean z per absolute position over the prompts that have it: [L, H, T, dh]."""
    return position_mean(z, lengths, t_axis=3)


def resampled(x, perm, lengths=None, t_axis=3):
    """Row b takes row perm[b]'s activations; positions the donor lacks (its sequence is shorter) take the
    set mean, as src/lib/core/experiments/replacements.ts does. Same layouts as position_mean."""
    donor = x[perm]
    if lengths is None or bool((lengths == x.shape[t_axis]).all()):
        return donor
    T = x.shape[t_axis]
    has = torch.arange(T)[None] < lengths[perm][:, None]  # [B, T]: donor has position t
    shape = [x.shape[0]] + [1] * (x.dim() - 1)
    shape[t_axis] = T
    return torch.where(has.reshape(shape), donor, position_mean(x, lengths, t_axis)[None])


def resample_perm(n, seed):
    """A fixed seeded permutation without fixed points (each prompt takes another's activation)."""
    rng = random.Random(seed)
    while True:
        p = list(range(n))
        rng.shuffle(p)
        if n < 2 or all(i != j for i, j in enumerate(p)):
            return p


@torch.no_grad()
def ablation_scan(model, data, method, perm=None):
    """Score every head (and MLP layer for zero/mean) by metric(clean) - metric(ablated), mean over prompts.
    Returns {"heads": {metric: [L, H]}, "mlps": {metric: [L]}}."""
    s, tokens = model.spec, data["clean"]
    B, T = tokens.shape
    clean_logits, _ = model(tokens)
    clean = metrics(clean_logits, tokens, data["n_prompt"], data["answers"], data.get("cf_first"))
    lengths = data.get("lengths")
    z = z_of(model, tokens)
    if method == "mean":
        z_mean = mean_z(z, lengths)
    elif method == "resample":
        z_donor = resampled(z, perm, lengths)
    heads = {k: torch.zeros(s.n_layers, s.n_heads) for k in clean}
    for l, h in head_rows(s):
        mask = torch.ones(B, s.n_layers, s.n_heads)
        mask[:, l, h] = 0
        repl = torch.zeros(B, s.n_layers, s.n_heads, T, s.d_head)
        if method == "mean":
            repl[:, l, h] = z_mean[l, h]
        elif method == "resample":
            repl[:, l, h] = z_donor[:, l, h]
        logits, _ = model(tokens, interventions={"head_mask": mask, "head_repl": repl})
        m = metrics(logits, tokens, data["n_prompt"], data["answers"], data.get("cf_first"))
        for k in clean:
            heads[k][l, h] = (clean[k] - m[k]).mean()
    mlps = {}
    if not s.attn_only and method in ("zero", "mean"):
        post_mean = position_mean(post_of(model, tokens), lengths, t_axis=2) if method == "mean" else None
        mlps = {k: torch.zeros(s.n_layers) for k in clean}
        for l in range(s.n_layers):
            mask = torch.ones(B, s.n_layers)
            mask[:, l] = 0
            repl = torch.zeros(B, s.n_layers, T, s.d_mlp)
            if method == "mean":
                repl[:, l] = post_mean[l]
            logits, _ = model(tokens, interventions={"mlp_mask": mask, "mlp_repl": repl})
            m = metrics(logits, tokens, data["n_prompt"], data["answers"], data.get("cf_first"))
            for k in clean:
                mlps[k][l] = (clean[k] - m[k]).mean()
    return {"heads": heads, "mlps": mlps, "clean": {k: v.mean() for k, v in clean.items()}}


@torch.no_grad()
def patch_scan(model, data, position=None):
    """Activation patching (denoising): corrupted run with one head's z restored from the clean run
    (all positions, or one position). score = (m_patched - m_corrupt) / (m_clean - m_corrupt) with
    the metric averaged over prompts first."""
    s = model.spec
    clean_t, corrupt_t = data["clean"], data["corrupt"]
    B, T = clean_t.shape
    args = (data["n_prompt"], data["answers"], data["cf_first"])
    mc = metrics(model(clean_t)[0], clean_t, *args)
    mx = metrics(model(corrupt_t)[0], corrupt_t, *args)
    z = z_of(model, clean_t)
    out = {k: torch.zeros(s.n_layers, s.n_heads) for k in ("logprob", "logit_diff")}
    for l, h in head_rows(s):
        if position is None:
            mask = torch.ones(B, s.n_layers, s.n_heads)
            mask[:, l, h] = 0
        else:
            mask = torch.ones(B, s.n_layers, s.n_heads, T)
            mask[:, l, h, position] = 0
        logits, _ = model(corrupt_t, interventions={"head_mask": mask, "head_repl": z})
        mp = metrics(logits, corrupt_t, *args)
        for k in out:
            out[k][l, h] = (mp[k].mean() - mx[k].mean()) / (mc[k].mean() - mx[k].mean())
    return {"heads": out, "clean": {k: mc[k].mean() for k in out}, "corrupt": {k: mx[k].mean() for k in out}}


@torch.no_grad()
def path_patch_scan(model, data):
    """Path patching to logits: sender head takes its corrupted-run z, every other head is frozen at
    its clean-run z, MLPs and norms recompute. score = mean over prompts of
    (logit_patched - logit_clean) / |logit_clean| for the correct first answer token. Also returns the
    per-prompt changes [L, H, B] and the clean logits: an error e in a logit moves a prompt's score by
    about e (1 + |score|) / |logit_clean|, so comparisons need them for their tolerance."""
    s = model.spec
    clean_t, corrupt_t = data["clean"], data["corrupt"]
    args = (data["n_prompt"], data["answers"], data["cf_first"])
    base = metrics(model(clean_t)[0], clean_t, *args)["answer_logit"]
    zc, zx = z_of(model, clean_t), z_of(model, corrupt_t)
    B = clean_t.shape[0]
    out = torch.zeros(s.n_layers, s.n_heads)
    per_prompt = torch.zeros(s.n_layers, s.n_heads, B)
    for l, h in head_rows(s):
        mask = torch.zeros(B, s.n_layers, s.n_heads)
        repl = zc.clone()
        repl[:, l, h] = zx[:, l, h]
        logits, _ = model(clean_t, interventions={"head_mask": mask, "head_repl": repl})
        pl = metrics(logits, clean_t, *args)["answer_logit"]
        per_prompt[l, h] = (pl - base) / base.abs()
        out[l, h] = per_prompt[l, h].mean()
    return {"heads": {"answer_logit_rel": out}, "per_prompt": {"answer_logit_rel": per_prompt}, "answer_logit": base}
