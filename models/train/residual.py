"""Reference residual-stream views (DESIGN.md §11): what the TypeScript attribution, logit lens and
head -> head path patching must reproduce.

Scored positions: row b's answer position i is sequence position n_prompt[b] - 1 + i, which predicts
answer token i (DESIGN §5). Rows are right-padded (experiments.encode_set), so per-position results are
[B, P] with P the longest answer and NaN where a row's answer is shorter.

- Direct logit attribution: the final residual x_final (last block's hook_resid_post) is exactly
      hook_embed + hook_pos_embed + sum_l (sum_h hook_result[l, h] + b_O[l]) + sum_l hook_mlp_out[l]
  (hook_mlp_out includes b_out). Freezing the final norm's statistics of the run makes it linear, so each
  component c maps to norm*(c), with
      LN:    (c - mean_D(c)) / sigma * w,   sigma = sqrt(var_D(x_final) + eps)
      LNPre: (c - mean_D(c)) / sigma
      RMS:   c / rms * w,                   rms = sqrt(mean_D(x_final^2) + eps)
      None:  c
  and its attribution to token t is norm*(c) . W_U[:, t]. constant = b . W_U[:, t] (LN bias, when there
  is one) + b_U[t] (when the spec has one). Components + constant = the clean logit of t.
  Logit-diff attribution uses W_U[:, t] - W_U[:, t_cf] at answer position 0 (b_U[t] - b_U[t_cf] in the
  constant).
- Logit lens: residual r_l = blocks.{l}.hook_resid_pre for l < L, r_L = the last hook_resid_post; logits_l =
  ln_final(r_l) (recomputed on r_l) @ W_U + b_U; log p and rank (1 + #entries with a strictly greater logit)
  of the answer token.
- Head -> head path patching (Wang et al. 2022): see edge_scan.
"""
import math

import torch

import experiments as ex


def unembed(model):
    """W_U [D, V] (W_E^T when tied) and b_U [V] or None."""
    s = model.spec
    W_U = model.w("W_E").t() if s.tied else model.w("W_U")
    return W_U, (model.w("b_U") if s.unembed_bias else None)


def scored_positions(data):
    """(at [B, P] sequence positions, clamped into range for short answers; targets [B, P] answer tokens,
    0 where absent; has [B, P] bool: row b has answer position i)."""
    answers = data["answers"]
    B, T = data["clean"].shape
    P = max(len(a) for a in answers)
    has = torch.tensor([[i < len(a) for i in range(P)] for a in answers])
    targets = torch.tensor([[a[i] if i < len(a) else 0 for i in range(P)] for a in answers])
    at = ((data["n_prompt"] - 1)[:, None] + torch.arange(P)[None]).clamp(max=T - 1)
    return at, targets, has


def gather(x, at):
    """x [B, T, ...] at positions at [B, P] -> [B, P, ...]."""
    idx = at.reshape(at.shape + (1,) * (x.dim() - 2)).expand(at.shape + x.shape[2:])
    return x.gather(1, idx)


def component_hooks(s):
    """(component name, hook name or None for the bias b_O of that layer, head index or None) in the
    order of the output: embed, pos_embed, then per layer L{l}H0.., L{l}.b_O, MLP{l}."""
    out = [("embed", "hook_embed", None)]
    if s.pos == "standard":
        out.append(("pos_embed", "hook_pos_embed", None))
    for l in range(s.n_layers):
        out += [(f"L{l}H{h}", f"blocks.{l}.attn.hook_result", h) for h in range(s.n_heads)]
        if s.o_bias:
            out.append((f"L{l}.b_O", None, l))
        if not s.attn_only:
            out.append((f"MLP{l}", f"blocks.{l}.hook_mlp_out", None))
    return out


def frozen_norm(model, x_final):
    """The final norm with the statistics of x_final [..., D] frozen: a linear map c -> norm*(c) (module
    docstring), applied to component vectors [..., C, D] broadcast against x_final[..., None, :]."""
    s = model.spec
    if s.norm == "None":
        return lambda c: c
    if s.norm == "RMS":
        rms = (x_final.pow(2).mean(-1, keepdim=True) + s.eps).sqrt()[..., None, :]
        w = model.w("ln_final.w")
        return lambda c: c / rms * w
    centred = x_final - x_final.mean(-1, keepdim=True)
    sigma = (centred.pow(2).mean(-1, keepdim=True) + s.eps).sqrt()[..., None, :]  # biased variance, as LayerNorm
    w = model.w("ln_final.w") if s.norm == "LN" else None
    if w is None:
        return lambda c: (c - c.mean(-1, keepdim=True)) / sigma
    return lambda c: (c - c.mean(-1, keepdim=True)) / sigma * w


def components_at(model, cache, at):
    """Component vectors of the final residual at positions at: (names, [B, P, C, D])."""
    s = model.spec
    B, P = at.shape
    vecs, names = [], []
    for name, hook, k in component_hooks(s):
        if hook is None:  # attention output bias: the same vector at every position
            vecs.append(model.w(f"blocks.{k}.b_O").expand(B, P, -1))
        elif k is None:
            vecs.append(gather(cache[hook], at))
        else:
            vecs.append(gather(cache[hook][:, :, k], at))
        names.append(name)
    return names, torch.stack(vecs, 2)


def constant_term(model, U, b_U_of):
    """Norm bias . direction + unembedding bias: U [B, P, D] directions, b_U_of the matching b_U values
    [B, P] (or None)."""
    b = model.w("ln_final.b") if model.spec.norm == "LN" else None
    const = torch.zeros(U.shape[:2], dtype=U.dtype)
    if b is not None:
        const = const + U @ b
    if b_U_of is not None:
        const = const + b_U_of
    return const


def check_sum(parts, whole, what):
    """Components + constant must give the logit to float error (relative to the parts' size)."""
    eps = torch.finfo(parts.dtype).eps
    err = (parts.sum(-1) - whole).abs()
    tol = 1e4 * eps * (1 + parts.abs().sum(-1))
    bad = ~(err <= tol) & ~whole.isnan()
    if bool(bad.any()):
        raise AssertionError(f"{what}: components sum to the logit only within {float(err[bad].max()):.3g}")


def nan_where(x, has):
    """x [B, P, ...] with NaN where has [B, P] is False."""
    mask = has.reshape(has.shape + (1,) * (x.dim() - 2))
    return torch.where(mask, x, torch.full_like(x, math.nan))


@torch.no_grad()
def attribute(model, data, cf_first=None):
    """Direct logit attribution at every scored position (module docstring).

    cf_first: [B] counterfactual first answer tokens (default data['cf_first']); an entry < 0 means the
    row has none (its logit-diff values are NaN). Returns
      names [C] (the last is 'constant'), has [B, P],
      logit [B, P] clean logit of the answer token, components [B, P, C] (NaN where ~has),
      and with cf_first: logit_diff [B] clean logit(t) - logit(t_cf) at answer position 0 and
      diff_components [B, C].
    Raises AssertionError when components + constant miss the logit (beyond float error)."""
    s = model.spec
    if cf_first is None:
        cf_first = data.get("cf_first")
    tokens = data["clean"]
    at, targets, has = scored_positions(data)
    last = f"blocks.{s.n_layers - 1}.hook_resid_post"
    hooks = [h for _, h, _ in component_hooks(s) if h is not None] + [last]
    logits, cache = model(tokens, hooks=hooks, logits_at=at)  # [B, P, V]
    logit = logits.gather(2, targets[..., None])[..., 0]
    names, comps = components_at(model, cache, at)
    normed = frozen_norm(model, gather(cache[last], at))(comps)  # [B, P, C, D]
    W_U, b_U = unembed(model)

    def attribute_to(U, b_U_of):  # U [B, P', D] directions at the first P' positions -> [B, P', C + 1]
        direct = torch.einsum("bpcd,bpd->bpc", normed[:, :U.shape[1]], U)
        return torch.cat([direct, constant_term(model, U, b_U_of)[..., None]], -1)

    parts = attribute_to(W_U.t()[targets], None if b_U is None else b_U[targets])
    check_sum(parts, nan_where(logit, has), "logit attribution")
    out = {"names": names + ["constant"], "has": has, "logit": nan_where(logit, has),
           "components": nan_where(parts, has)}
    if cf_first is not None:
        out.update(diff_attribution(logits, targets, cf_first, attribute_to, W_U, b_U))
    return out


def diff_attribution(logits, targets, cf_first, attribute_to, W_U, b_U):
    """Logit-diff attribution at answer position 0: direction W_U[:, t] - W_U[:, t_cf]."""
    ok = cf_first >= 0
    cf = cf_first.clamp(min=0)
    t = targets[:, :1]  # [B, 1]
    U = W_U.t()[t] - W_U.t()[cf][:, None]
    b = None if b_U is None else b_U[t] - b_U[cf][:, None]
    parts = attribute_to(U, b)[:, 0]  # position 0 only: [B, C + 1]
    clean = logits[:, 0].gather(1, t)[:, 0] - logits[:, 0].gather(1, cf[:, None])[:, 0]
    nan = torch.tensor(math.nan, dtype=parts.dtype)
    clean = torch.where(ok, clean, nan)
    check_sum(parts, clean, "logit-diff attribution")
    return {"logit_diff": clean, "diff_components": torch.where(ok[:, None], parts, nan)}


def lens_residuals(s):
    """Hook names of the residuals the lens reads: layer l < L -> blocks.l.hook_resid_pre, L -> the last
    block's hook_resid_post."""
    return [f"blocks.{l}.hook_resid_pre" for l in range(s.n_layers)] + [f"blocks.{s.n_layers - 1}.hook_resid_post"]


@torch.no_grad()
def logit_lens(model, data):
    """Logit lens at every scored position: {"logprob": [L + 1, B, P], "rank": [L + 1, B, P]} of the
    answer token, NaN where the row has no such answer position (module docstring)."""
    names = lens_residuals(model.spec)
    _, cache = model(data["clean"], hooks=names)
    at, targets, has = scored_positions(data)
    W_U, b_U = unembed(model)
    logprob, rank = [], []
    for name in names:
        logits = model.norm(gather(cache[name], at), "ln_final") @ W_U  # ln_final recomputed on this residual
        if b_U is not None:
            logits = logits + b_U
        mine = logits.gather(2, targets[..., None])  # [B, P, 1]
        logprob.append(nan_where(logits.log_softmax(-1).gather(2, targets[..., None])[..., 0], has))
        rank.append(nan_where((1 + (logits > mine).sum(-1)).to(logits.dtype), has))
    return {"logprob": torch.stack(logprob), "rank": torch.stack(rank)}


def mlp_receivers(s, ls):
    """MLP layers a sender in layer ls reaches: sequential residual m >= ls (the MLP reads resid_mid, which
    holds the sender's output); parallel m > ls; none for attention-only models."""
    if s.attn_only:
        return []
    return list(range(ls + 1 if s.parallel else ls, s.n_layers))


def sender_run(model, data, zc, zx, ls, hs):
    """path_patch_scan's run for sender (ls, hs): every head frozen at its clean z except the sender, which
    takes its corrupted z. Returns (logits, z before the intervention per layer [B, T, H, dh], MLP posts
    per layer [B, T, M])."""
    s = model.spec
    B = zc.shape[0]
    repl = zc.clone()
    repl[:, ls, hs] = zx[:, ls, hs]
    z_names = [f"blocks.{l}.attn.hook_z_free" for l in range(s.n_layers)]
    post_names = [] if s.attn_only else [f"blocks.{l}.mlp.hook_post" for l in range(s.n_layers)]
    logits, cache = model(data["clean"], hooks=z_names + post_names,
                          interventions={"head_mask": torch.zeros(B, s.n_layers, s.n_heads), "head_repl": repl})
    return logits, [cache[n] for n in z_names], [cache[n] for n in post_names]


def answer_logit(logits, data):
    return ex.metrics(logits, data["clean"], data["n_prompt"], data["answers"])["answer_logit"]


def receiver_head_run(model, data, lr, hr, z):
    """Clean run with only head (lr, hr)'s z replaced by z [B, T, dh] (every position)."""
    s = model.spec
    B, T = data["clean"].shape
    mask = torch.ones(B, s.n_layers, s.n_heads)
    mask[:, lr, hr] = 0
    repl = torch.zeros(B, s.n_layers, s.n_heads, T, s.d_head)
    repl[:, lr, hr] = z
    return model(data["clean"], interventions={"head_mask": mask, "head_repl": repl})[0]


def receiver_mlp_run(model, data, m, post):
    """Clean run with only MLP m's hook_post replaced by post [B, T, M]."""
    s = model.spec
    B, T = data["clean"].shape
    mask = torch.ones(B, s.n_layers)
    mask[:, m] = 0
    repl = torch.zeros(B, s.n_layers, T, s.d_mlp)
    repl[:, m] = post
    return model(data["clean"], interventions={"mlp_mask": mask, "mlp_repl": repl})[0]


@torch.no_grad()
def edge_scan(model, data):
    """Head -> head (and head -> MLP) path patching. For sender s = (ls, hs), path_patch_scan's run (sender
    corrupted, every other head frozen clean, MLPs and norms recompute) records each head's z as computed
    before the freezing and each MLP's hook_post; the edge s -> receiver head r (layer > ls) is a clean run
    with only r's z replaced by its recorded z, and s -> MLP m (mlp_receivers) a clean run with only MLP m's
    hook_post replaced. Score = mean over prompts of (logit_patched - logit_clean) / |logit_clean| of the
    correct first answer token at the last prompt position (DESIGN §5 path score).

    model may be reference_scans.AnswerLogits (the scores read only the answer positions). Returns
      heads [L, H, L, H] (sender, receiver; NaN where receiver layer <= sender layer),
      mlps [L, H, L] (NaN where MLP m is no receiver), logits [L, H] (= path_patch_scan's scores),
      per_prompt {"heads": [L, H, L, H, B], "mlps": [L, H, L, B], "logits": [L, H, B]}, answer_logit [B]."""
    s = model.spec
    L, H = s.n_layers, s.n_heads
    B = data["clean"].shape[0]
    base = answer_logit(model(data["clean"])[0], data)
    rel = lambda logits: (answer_logit(logits, data) - base) / base.abs()
    zc, zx = ex.z_of(model, data["clean"]), ex.z_of(model, data["corrupt"])
    nan = math.nan
    pp = {"heads": torch.full((L, H, L, H, B), nan), "mlps": torch.full((L, H, L, B), nan),
          "logits": torch.zeros(L, H, B)}
    for ls, hs in ex.head_rows(s):
        logits, z_free, posts = sender_run(model, data, zc, zx, ls, hs)
        pp["logits"][ls, hs] = rel(logits)
        for lr in range(ls + 1, L):
            for hr in range(H):
                pp["heads"][ls, hs, lr, hr] = rel(receiver_head_run(model, data, lr, hr, z_free[lr][:, :, hr]))
        for m in mlp_receivers(s, ls):
            pp["mlps"][ls, hs, m] = rel(receiver_mlp_run(model, data, m, posts[m]))
    return {"heads": pp["heads"].mean(-1), "mlps": pp["mlps"].mean(-1), "logits": pp["logits"].mean(-1),
            "per_prompt": pp, "answer_logit": base}
