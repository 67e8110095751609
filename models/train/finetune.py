"""Fine-tune a model folder along an `arithlens plan` (precise SFT of chosen heads, or LoRA), and
write a Hugging Face folder the engine loads.

    /usr/bin/python3 models/train/finetune.py MODEL_DIR --plan PLAN.json (--task SPEC | --prompts FILE) \
        --steps N --out DIR [--seed S] [--lr LR] [--batch B] [--eval-every K] [--eval FILE]

PLAN is one of
- a head-mask plan (`arithlens plan --format mask`, method "precise-sft"): only the elements inside
  the plan's slices of the checkpoint tensors train; every other element of every tensor is written
  back bit-identical (gradients outside the slices are zeroed, and the frozen elements are restored
  after each optimiser step, so no optimiser term can move them);
- an element-mask plan (method "element-mask", {"elements": {tensor: [flat indices]}}), which the
  experiment uses for random-element baselines;
- a PEFT LoraConfig (`arithlens plan --format peft`): LoRA adapters (A, B; B starts at zero) on the
  named modules of the named layers, merged into the weights on save. Supported for the Hugging Face
  families gpt2 (Conv1D, fan_in_fan_out true), llama, qwen2, gpt_neox; lora_dropout is not applied
  (the adapters act on the merged weight; recorded in the log);
- the words `full` (every tensor) or `mlp` (the MLP tensors only), for baselines.

A plan whose family, tensor names, shapes or head slices do not match the model is refused with
an error naming the tensor.

Training data: --task SPEC (add-3d / add:3:eos / add:D[:eos], mul-2d / mul:2:pad:reversed, the
generators of tasks.py; problems in the eval file are never trained on) or --prompts FILE (JSONL
{"prompt","answer"} records, DESIGN §6). Each example is tokenized as DESIGN §5 says, with the
model's own tokenizer.json: sequence = tokenizer(prompt + answer), prompt ids = tokenizer(prompt);
the loss is the cross-entropy of the answer tokens. Evaluation (teacher-forced exact match, which
equals greedy exact match) runs on --eval FILE, default MODEL_DIR/heldout.jsonl (for --prompts
without it, a seeded 10% of the prompt file is held out), every --eval-every steps.

Writes DIR/config.json, model.safetensors (each tensor in its source dtype), tokenizer files,
heldout*.jsonl copied from MODEL_DIR, finetune_log.json (per step: loss; every K steps: eval
accuracy) and README.md (a card).
"""
import argparse
import hashlib
import json
import math
import os
import random
import re
import shutil
import struct
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checkpoints  # noqa: E402
import safetensors_io  # noqa: E402
import tasks  # noqa: E402
from reference import Reference, canonical_shapes  # noqa: E402


class PlanError(ValueError):
    pass


# -- tokenizer (the model's own tokenizer.json) ---------------------------------------------------
class Tokenizer:
    """The tokenizer.json layouts arithlens trains: WordLevel vocabulary, pre-tokenizer Split on a
    regex (each match a token, Isolated), added (special) tokens matched first, TemplateProcessing
    post-processor adding its special tokens around the sequence. Others are refused by name."""

    def __init__(self, folder):
        path = os.path.join(folder, "tokenizer.json")
        with open(path) as f:
            t = json.load(f)
        model = t.get("model") or {}
        if model.get("type") != "WordLevel":
            raise PlanError(f"{path}: model.type {model.get('type')!r} is not supported by finetune.py (only WordLevel)")
        self.vocab = model["vocab"]
        self.unk = self.vocab.get(model.get("unk_token"))
        pre = t.get("pre_tokenizer") or {}
        if pre.get("type") != "Split" or pre.get("behavior") != "Isolated" or pre.get("invert"):
            raise PlanError(f"{path}: pre_tokenizer {pre.get('type')!r} is not supported (only Split, Isolated)")
        pat = pre["pattern"]
        self.split = re.compile(pat["Regex"] if "Regex" in pat else re.escape(pat["String"]), re.S)
        if t.get("normalizer"):
            raise PlanError(f"{path}: a normalizer is not supported")
        self.added = sorted((a["content"] for a in t.get("added_tokens") or []), key=len, reverse=True)
        self.added_re = re.compile("(" + "|".join(re.escape(a) for a in self.added) + ")") if self.added else None
        self.prefix, self.suffix = [], []
        post = t.get("post_processor")
        if post:
            if post.get("type") != "TemplateProcessing":
                raise PlanError(f"{path}: post_processor {post.get('type')!r} is not supported (only TemplateProcessing)")
            specials = post.get("special_tokens", {})
            seen_seq = False
            for item in post["single"]:
                if "Sequence" in item:
                    seen_seq = True
                else:
                    ids = specials[item["SpecialToken"]["id"]]["ids"]
                    (self.suffix if seen_seq else self.prefix).extend(ids)
        self.pad = self.vocab.get("<pad>", 0)

    def encode(self, text, add_special_tokens=True):
        ids = []
        parts = self.added_re.split(text) if self.added_re else [text]
        for part in parts:
            if not part:
                continue
            if part in self.added:
                ids.append(self.vocab[part])
                continue
            for piece in self.split.findall(part):
                if piece in self.vocab:
                    ids.append(self.vocab[piece])
                elif self.unk is not None:
                    ids.append(self.unk)
                else:
                    raise PlanError(f"tokenizer: {piece!r} is not in the vocabulary and there is no unk token")
        return self.prefix + ids + self.suffix if add_special_tokens else ids

    def example(self, prompt, answer):
        """DESIGN §5: (sequence ids, number of prompt ids); the prompt ids must prefix the sequence."""
        seq, p = self.encode(prompt + answer), self.encode(prompt)
        # a post-processor suffix (none in arithlens' tokenizers) would sit after the prompt, not inside
        p_core = p[:len(p) - len(self.suffix)] if self.suffix else p
        if seq[:len(p_core)] != p_core:
            raise PlanError(f"prompt {prompt!r}: its tokens are not a prefix of the tokens of prompt + answer")
        if len(seq) <= len(p_core):
            raise PlanError(f"prompt {prompt!r}: answer {answer!r} has no tokens")
        return seq, len(p_core)


# -- checkpoint tensors ---------------------------------------------------------------------------
def _header_dtypes(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    header.pop("__metadata__", None)
    return {k: v["dtype"] for k, v in header.items()}


def source_dtypes(folder):
    single = os.path.join(folder, "model.safetensors")
    if os.path.exists(single):
        return _header_dtypes(single)
    with open(os.path.join(folder, "model.safetensors.index.json")) as f:
        shards = sorted(set(json.load(f)["weight_map"].values()))
    out = {}
    for s in shards:
        out.update(_header_dtypes(os.path.join(folder, s)))
    return out


DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def save_state_dict(folder, sd, dtypes):
    """Write one model.safetensors with every tensor in its source dtype (a value that was f16 / bf16
    and did not train round-trips exactly)."""
    out = {}
    for name, t in sd.items():
        dt = DTYPES.get(dtypes.get(name, "F32"))
        out[name] = t.detach().to(dt) if (dt is not None and t.is_floating_point()) else t.detach()
    safetensors_io.save(out, os.path.join(folder, "model.safetensors"), {"format": "pt"})


# -- head slices (the Python twin of src/lib/core/export/headSlices.ts) ------------------------------
def head_slices(spec, layer, head):
    """[(tensor, dim, start, end, part)] of head (layer, head) in the checkpoint's own tensors."""
    H, K, dh, D = spec.n_heads, spec.n_kv_heads, spec.d_head, spec.d_model
    if not (0 <= layer < spec.n_layers) or not (0 <= head < H):
        raise PlanError(f"head L{layer}H{head} is not in a model with {spec.n_layers} layers x {H} heads")
    g = head // (H // K)
    rows = lambda h: (h * dh, (h + 1) * dh)  # noqa: E731
    bias = spec.qkv_bias
    out = []
    if spec.family == "gpt2":
        p = f"transformer.h.{layer}.attn."
        qkv = lambda i: (i * H * dh + head * dh, i * H * dh + (head + 1) * dh)  # noqa: E731
        out += [(p + "c_attn.weight", 1, *qkv(i), part) for i, part in enumerate("qkv")]
        if bias:
            out += [(p + "c_attn.bias", 0, *qkv(i), part) for i, part in enumerate("qkv")]
        out.append((p + "c_proj.weight", 0, *rows(head), "o"))
    elif spec.family in ("llama", "qwen2"):
        p = f"model.layers.{layer}.self_attn."
        out += [(p + "q_proj.weight", 0, *rows(head), "q"), (p + "k_proj.weight", 0, *rows(g), "k"),
                (p + "v_proj.weight", 0, *rows(g), "v")]
        if bias:
            out += [(p + "q_proj.bias", 0, *rows(head), "q"), (p + "k_proj.bias", 0, *rows(g), "k"),
                    (p + "v_proj.bias", 0, *rows(g), "v")]
        out.append((p + "o_proj.weight", 1, *rows(head), "o"))
    elif spec.family == "gpt_neox":
        p = f"gpt_neox.layers.{layer}.attention."
        qkv = lambda i: ((3 * head + i) * dh, (3 * head + i + 1) * dh)  # noqa: E731
        out += [(p + "query_key_value.weight", 0, *qkv(i), part) for i, part in enumerate("qkv")]
        if bias:
            out += [(p + "query_key_value.bias", 0, *qkv(i), part) for i, part in enumerate("qkv")]
        out.append((p + "dense.weight", 1, *rows(head), "o"))
    else:
        p = f"blocks.{layer}.attn."
        kv = "_" if K < H else ""
        out += [(p + "W_Q", 0, head, head + 1, "q"), (p + kv + "W_K", 0, g, g + 1, "k"), (p + kv + "W_V", 0, g, g + 1, "v")]
        if bias:
            out += [(p + "b_Q", 0, head, head + 1, "q"), (p + kv + "b_K", 0, g, g + 1, "k"), (p + kv + "b_V", 0, g, g + 1, "v")]
        out.append((p + "W_O", 0, head, head + 1, "o"))
    return out


def checkpoint_shapes(spec, sd=None):
    """Shapes of the checkpoint tensors (from the state dict, or from the spec via to_checkpoint)."""
    if sd is None:
        sd = to_checkpoint_named(spec, {k: torch.zeros(v) for k, v in canonical_shapes(spec).items()})
    return {k: list(v.shape) for k, v in sd.items()}


def to_checkpoint_named(spec, w):
    sd = checkpoints.to_checkpoint(spec, w)
    if spec.family == "transformer_lens" and spec.n_kv_heads < spec.n_heads:
        sd = {re.sub(r"attn\.([Wb]_[KV])$", r"attn._\1", k): v for k, v in sd.items()}
    return sd


def head_mask_plan(spec, heads, shapes=None):
    """Python twin of `arithlens plan --format mask` (plan.ts headMaskPlan)."""
    shapes = shapes or checkpoint_shapes(spec)
    group = spec.n_heads // spec.n_kv_heads
    masks, tensor_shapes, touched, seen = [], {}, {}, set()
    for layer, head in heads:
        if (layer, head) in seen:
            continue
        seen.add((layer, head))
        slices, params = [], 0
        for name, dim, start, end, part in head_slices(spec, layer, head):
            shape = shapes[name]
            tensor_shapes[name] = shape
            size = math.prod(shape) // shape[dim] * (end - start)
            params += size
            touched[(name, dim, start, end)] = size
            slices.append({"tensor": name, "dim": dim, "start": start, "end": end, "part": part})
        g = head // group
        masks.append({"layer": layer, "head": head, "kv_head": g,
                      "kv_shared_with": [g * group + i for i in range(group) if g * group + i != head],
                      "slices": slices, "params": params})
    total = sum(math.prod(s) for s in canonical_shapes(spec).values())
    pt = sum(touched.values())
    return {"method": "precise-sft", "family": spec.family, "heads": masks, "tensor_shapes": tensor_shapes,
            "params_touched": pt, "params_total": total, "percent": 100 * pt / total}


def attention_tensors(spec, sd):
    """Checkpoint tensors holding attention q/k/v/o weights and biases (every head's slices)."""
    names = set()
    for l in range(spec.n_layers):
        for h in range(spec.n_heads):
            names.update(s[0] for s in head_slices(spec, l, h))
    return sorted(n for n in names if n in sd)


def mlp_tensors(spec, sd):
    pats = {"gpt2": r"\.mlp\.", "llama": r"\.mlp\.", "qwen2": r"\.mlp\.", "gpt_neox": r"\.mlp\.",
            "transformer_lens": r"\.mlp\."}
    return sorted(k for k in sd if re.search(pats[spec.family], k) and sd[k].is_floating_point())


# -- plans -> masks ---------------------------------------------------------------------------------
def _family_check(plan, spec):
    fam = plan.get("family")
    if fam is not None and fam != spec.family:
        raise PlanError(f"plan: family {fam!r} does not match the model's family {spec.family!r}")


def masks_from_plan(plan, spec, sd):
    """-> {checkpoint tensor name: bool mask (True trains)}; refuses mismatches, naming the tensor."""
    if plan == "full":
        return {k: torch.ones_like(v, dtype=torch.bool) for k, v in sd.items() if v.is_floating_point()}
    if plan == "mlp":
        if spec.attn_only:
            raise PlanError("plan mlp: the model is attention-only")
        return {k: torch.ones_like(sd[k], dtype=torch.bool) for k in mlp_tensors(spec, sd)}
    method = plan.get("method")
    _family_check(plan, spec)
    for name, shape in (plan.get("tensor_shapes") or {}).items():
        if name not in sd:
            raise PlanError(f"plan: tensor {name} is not in the model (its {spec.family} checkpoint has no such tensor)")
        if list(sd[name].shape) != list(shape):
            raise PlanError(f"plan: tensor {name} has shape {list(shape)} in the plan but {list(sd[name].shape)} in the model")
    masks = {}
    if method == "precise-sft":
        if "family" not in plan:
            raise PlanError("plan: a precise-sft plan needs its family")
        for hm in plan["heads"]:
            layer, head = hm["layer"], hm["head"]
            expected = {(s[0], s[1], s[2], s[3], s[4]) for s in head_slices(spec, layer, head)}
            given = set()
            for s in hm["slices"]:
                name, dim, start, end = s["tensor"], s["dim"], s["start"], s["end"]
                if name not in sd:
                    raise PlanError(f"plan: head L{layer}H{head}: tensor {name} is not in the model")
                shape = sd[name].shape
                if not (0 <= dim < len(shape)) or not (0 <= start < end <= shape[dim]):
                    raise PlanError(f"plan: head L{layer}H{head}: slice {name}[{start}:{end}] on dim {dim} "
                                    f"does not fit its shape {list(shape)}")
                key = (name, dim, start, end, s.get("part"))
                if key not in expected:
                    raise PlanError(f"plan: head L{layer}H{head}: slice {name}[{start}:{end}] on dim {dim} "
                                    f"(part {s.get('part')}) is not where this model keeps that head")
                given.add(key)
                m = masks.setdefault(name, torch.zeros_like(sd[name], dtype=torch.bool))
                idx = [slice(None)] * len(shape)
                idx[dim] = slice(start, end)
                m[tuple(idx)] = True
            missing = expected - given
            if missing:
                name = sorted(missing)[0][0]
                raise PlanError(f"plan: head L{layer}H{head}: its slice of tensor {name} is missing from the plan")
        return masks
    if method == "element-mask":
        for name, idx in plan["elements"].items():
            if name not in sd:
                raise PlanError(f"plan: tensor {name} is not in the model")
            n = sd[name].numel()
            t = torch.as_tensor(idx, dtype=torch.long)
            if t.numel() and (int(t.min()) < 0 or int(t.max()) >= n):
                raise PlanError(f"plan: tensor {name}: element index out of range 0..{n - 1}")
            m = torch.zeros(n, dtype=torch.bool)
            m[t] = True
            masks[name] = m.reshape(sd[name].shape)
        return masks
    raise PlanError(f"plan: method {method!r} is not supported (precise-sft, element-mask, a LoraConfig, full, mlp)")


def random_element_plan(spec, sd, n_params, seed):
    """n_params elements drawn uniformly (seeded) from all attention tensors' elements."""
    names = attention_tensors(spec, sd)
    sizes = [sd[n].numel() for n in names]
    g = torch.Generator().manual_seed(seed)
    flat = torch.randperm(sum(sizes), generator=g)[:n_params].sort().values
    out, off = {}, 0
    for n, s in zip(names, sizes):
        sel = flat[(flat >= off) & (flat < off + s)] - off
        if sel.numel():
            out[n] = sel.tolist()
        off += s
    return {"method": "element-mask", "family": spec.family, "seed": seed, "elements": out,
            "tensor_shapes": {n: list(sd[n].shape) for n in out}, "params_touched": n_params}


# -- LoRA -------------------------------------------------------------------------------------------
LORA_FAMILIES = {"gpt2": ("h", True), "llama": ("layers", False), "qwen2": ("layers", False),
                 "gpt_neox": ("layers", False)}


def lora_targets(plan, spec, sd):
    """[(tensor name, fan_in_fan_out)] of the weights the LoraConfig adapts (PEFT's suffix match)."""
    if spec.family not in LORA_FAMILIES:
        raise PlanError(f"LoRA plan: the {spec.family} family is not supported by finetune.py (its weights are bare "
                        "parameters, PEFT target_parameters); use a head-mask plan (arithlens plan --format mask)")
    if plan.get("target_parameters"):
        raise PlanError("LoRA plan: target_parameters is not supported (only target_modules)")
    pattern, fifo = LORA_FAMILIES[spec.family]
    if bool(plan.get("fan_in_fan_out", False)) != fifo:
        raise PlanError(f"LoRA plan: fan_in_fan_out {plan.get('fan_in_fan_out')} does not match the {spec.family} "
                        f"checkpoint layout (needs {str(fifo).lower()})")
    lp = plan.get("layers_pattern", pattern)
    if lp != pattern:
        raise PlanError(f"LoRA plan: layers_pattern {lp!r} does not match the {spec.family} checkpoint (needs {pattern!r})")
    layers = plan.get("layers_to_transform")
    if layers is not None:
        layers = [layers] if isinstance(layers, int) else list(layers)
        for l in layers:
            if not (0 <= l < spec.n_layers):
                raise PlanError(f"LoRA plan: layer {l} of layers_to_transform is not in 0..{spec.n_layers - 1}")
    targets = plan.get("target_modules") or []
    if not targets:
        raise PlanError("LoRA plan: no target_modules")
    found, out = set(), []
    for name in sorted(sd):
        if not name.endswith(".weight") or sd[name].dim() != 2:
            continue
        module = name[:-len(".weight")]
        hit = [t for t in targets if module == t or module.endswith("." + t)]
        if not hit:
            continue
        m = re.search(rf"\.{lp}\.(\d+)\.", "." + module + ".")
        if layers is not None and (m is None or int(m.group(1)) not in layers):
            continue
        found.update(hit)
        out.append((name, fifo))
    for t in targets:
        if t not in found:
            raise PlanError(f"LoRA plan: target module {t!r} matches no tensor of the model")
    return out


# -- data -------------------------------------------------------------------------------------------
def task_generator(spec_text):
    """-> (sample(rng) -> (prompt, answer), description). The formats of tasks.py."""
    text = spec_text.strip()
    presets = {"add-3d": "add:3:eos", "add-3d-llama": "add:3:eos", "mul-2d": "mul:2:pad:reversed"}
    text = presets.get(text, text)
    m = re.fullmatch(r"add:(\d+)(:eos)?", text)
    if m:
        d, eos = int(m.group(1)), bool(m.group(2))

        def sample(rng):
            a, b = rng.randrange(10 ** d), rng.randrange(10 ** d)
            p, ans = tasks.add_example(a, b)
            return p, ans if eos else ans[:-len("<eos>")]
        return sample, text
    if text == "mul:2:pad:reversed":
        return (lambda rng: tasks.mul_example(rng.randrange(100), rng.randrange(100))), text
    raise PlanError(f"--task {spec_text!r}: finetune.py generates add-3d / add:D / add:D:eos and mul-2d "
                    "(mul:2:pad:reversed), the formats of models/train/tasks.py; give other tasks as --prompts FILE")


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def batch_tensors(tk, pairs):
    """pairs [(prompt, answer)] -> ids [B, T], answer-target mask positions aidx [B, T-1] (-1 off)."""
    seqs = [tk.example(p, a) for p, a in pairs]
    T = max(len(s) for s, _ in seqs)
    ids = torch.full((len(seqs), T), tk.pad, dtype=torch.long)
    aidx = torch.full((len(seqs), T - 1), -1, dtype=torch.long)
    for i, (s, n_p) in enumerate(seqs):
        ids[i, :len(s)] = torch.tensor(s)
        aidx[i, n_p - 1:len(s) - 1] = torch.arange(len(s) - n_p)
    return ids, aidx


@torch.no_grad()
def accuracy(forward, tk, records, batch=500):
    """Teacher-forced exact match and mean answer logprob of records [{"prompt","answer"}]."""
    hits, lp = 0, 0.0
    for i in range(0, len(records), batch):
        chunk = records[i:i + batch]
        ids, aidx = batch_tensors(tk, [(r["prompt"], r["answer"]) for r in chunk])
        logp = forward(ids[:, :-1]).log_softmax(-1)
        tgt = ids[:, 1:]
        m = aidx >= 0
        correct = (logp.argmax(-1) == tgt) | ~m
        hits += int(correct.all(1).sum())
        lp += float((logp.gather(-1, tgt[..., None])[..., 0] * m).sum())
    return hits / len(records), lp / len(records)


# -- the trainer ------------------------------------------------------------------------------------
class _Live(Reference):
    """Reference whose weights are recomputed from the checkpoint tensors at every step."""

    def __init__(self, spec, canonical):
        super().__init__(spec, canonical)
        self.live = None

    def w(self, name):
        return self.live.get(name) if self.live is not None else super().w(name)


def load_plan(arg):
    if arg in ("full", "mlp"):
        return arg
    with open(arg) as f:
        return json.load(f)


def finetune(model_dir, plan, out, steps, task=None, prompts=None, seed=0, lr=1e-3, batch=64, eval_every=50,
             eval_file=None, eval_n=None, extra_evals=None, weight_decay=0.0, log_every=1, quiet=False,
             plan_source=None):
    """Library entry (the CLI and the experiment call it). Returns the log dict."""
    t0 = time.time()
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    spec = checkpoints.spec_from_config(cfg)
    sd = checkpoints.load_state_dict(model_dir)
    dtypes = source_dtypes(model_dir)
    tk = Tokenizer(model_dir)
    torch.manual_seed(seed)
    rng = random.Random(seed)

    is_lora = isinstance(plan, dict) and plan.get("peft_type") == "LORA"
    if is_lora:
        _family_check(plan, spec)
        targets = lora_targets(plan, spec, sd)
        masks = {}
    else:
        masks = masks_from_plan(plan, spec, sd)
        if not masks or not any(bool(m.any()) for m in masks.values()):
            raise PlanError("plan: it selects no parameters")

    # data
    if eval_file is None:
        default = os.path.join(model_dir, "heldout.jsonl")
        eval_file = default if os.path.exists(default) else None
    eval_records = read_jsonl(eval_file) if eval_file else []
    if prompts is not None:
        train_records = read_jsonl(prompts)
        if not eval_records:
            order = list(range(len(train_records)))
            random.Random(seed).shuffle(order)
            n_eval = max(1, len(order) // 10)
            eval_records = [train_records[i] for i in order[:n_eval]]
            train_records = [train_records[i] for i in order[n_eval:]]
        held = {r["prompt"] for r in eval_records}
        train_pairs = [(r["prompt"], r["answer"]) for r in train_records if r["prompt"] not in held]
        if not train_pairs:
            raise PlanError(f"--prompts {prompts}: no training records left after removing the eval prompts")
        sample = lambda r: train_pairs[r.randrange(len(train_pairs))]  # noqa: E731
        data_desc = {"prompts": prompts, "sha256": hashlib.sha256(open(prompts, "rb").read()).hexdigest(),
                     "train_records": len(train_pairs)}
    elif task is not None:
        gen, canon = task_generator(task)
        held = {r["prompt"] for r in eval_records}

        def sample(r):
            while True:
                p, a = gen(r)
                if p not in held:
                    return p, a
        data_desc = {"task": canon}
    else:
        raise PlanError("give --task SPEC or --prompts FILE")
    if eval_n:
        eval_records = eval_records[:eval_n]
    extra_evals = extra_evals or {}

    # trainable tensors
    base = {k: v.clone() for k, v in sd.items()}
    leaves, opt_params = {}, []
    if is_lora:
        r_, alpha = int(plan.get("r", 8)), float(plan.get("lora_alpha", 16))
        scale = alpha / r_
        g = torch.Generator().manual_seed(seed)
        lora = {}
        for name, fifo in targets:
            W = sd[name]
            d_in, d_out = (W.shape[0], W.shape[1]) if fifo else (W.shape[1], W.shape[0])
            A = torch.empty(r_, d_in)
            bound = 1 / math.sqrt(d_in)  # kaiming_uniform(a=sqrt(5)) of a Linear(d_in, r), as PEFT
            A.uniform_(-bound, bound, generator=g)
            A = torch.nn.Parameter(A)
            B = torch.nn.Parameter(torch.zeros(d_out, r_))
            lora[name] = (A, B, fifo)
            opt_params += [A, B]

        def current():
            cur = dict(base)
            for name, (A, B, fifo) in lora.items():
                delta = (B @ A) * scale  # [out, in]
                cur[name] = base[name] + (delta.t() if fifo else delta)
            return cur
        n_train = sum(p.numel() for p in opt_params)
    else:
        for name, m in masks.items():
            p = torch.nn.Parameter(sd[name].clone())
            leaves[name] = p
            opt_params.append(p)

        def current():
            cur = dict(base)
            cur.update(leaves)
            return cur
        n_train = int(sum(int(m.sum()) for m in masks.values()))

    canon0 = checkpoints.from_checkpoint(spec, sd)
    model = _Live(spec, canon0)
    model.eval()  # no dropout in the reference; eval mode only matters for bookkeeping
    for p in model.parameters():
        p.requires_grad_(False)

    def forward(x, cur=None):
        model.live = checkpoints.from_checkpoint(spec, cur if cur is not None else current())
        logits, _ = model(x)
        return logits

    def evaluate_all():
        with torch.no_grad():
            cur = current()
            fw = lambda x: forward(x, cur)  # noqa: E731
            res = {}
            if eval_records:
                acc, lp = accuracy(fw, tk, eval_records)
                res["eval_accuracy"], res["eval_logprob"] = round(acc, 5), round(lp, 5)
            for key, recs in extra_evals.items():
                acc, lp = accuracy(fw, tk, recs)
                res[f"{key}_accuracy"], res[f"{key}_logprob"] = round(acc, 5), round(lp, 5)
            return res

    opt = torch.optim.AdamW(opt_params, lr=lr, betas=(0.9, 0.98), weight_decay=weight_decay)
    log = {"model": os.path.abspath(model_dir), "family": spec.family, "plan": plan_source or
           (plan if isinstance(plan, str) else plan.get("method", "lora" if is_lora else None)),
           "seed": seed, "steps": steps, "lr": lr, "batch": batch, "weight_decay": weight_decay,
           "trainable_params": n_train, "params_total": sum(math.prod(s) for s in canonical_shapes(spec).values()),
           "data": data_desc, "eval_file": eval_file, "eval_n": len(eval_records),
           "lora_dropout_applied": False if is_lora else None, "log": []}
    first = {"step": 0, **evaluate_all()}
    log["log"].append(first)
    if not quiet:
        print(f"step 0 {first}", flush=True)
    for step in range(1, steps + 1):
        ids, aidx = batch_tensors(tk, [sample(rng) for _ in range(batch)])
        logits = forward(ids[:, :-1])
        tgt = ids[:, 1:]
        loss = F.cross_entropy(logits[aidx >= 0], tgt[aidx >= 0])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if not is_lora:
            for name, p in leaves.items():
                if p.grad is not None:
                    p.grad.mul_(masks[name])
        torch.nn.utils.clip_grad_norm_(opt_params, 1.0)
        opt.step()
        if not is_lora:
            with torch.no_grad():
                for name, p in leaves.items():
                    p.copy_(torch.where(masks[name], p, base[name]))  # frozen elements stay bit-identical
        entry = {"step": step, "loss": round(loss.item(), 5)}
        if step % eval_every == 0 or step == steps:
            entry.update(evaluate_all())
            if not quiet:
                print(f"step {step} loss {loss.item():.4f} {entry}", flush=True)
        if step % log_every == 0 or "eval_accuracy" in entry:
            log["log"].append(entry)
    final = current()
    log["train_seconds"] = round(time.time() - t0, 1)
    log["final"] = {k: v for k, v in log["log"][-1].items() if k.endswith(("accuracy", "logprob"))}
    log["initial"] = {k: v for k, v in first.items() if k != "step"}

    if out:
        write_folder(model_dir, out, {k: v.detach() for k, v in final.items()}, dtypes, log, spec)
    return log


def write_folder(model_dir, out, sd, dtypes, log, spec):
    os.makedirs(out, exist_ok=True)
    for fname in os.listdir(model_dir):
        src = os.path.join(model_dir, fname)
        if not os.path.isfile(src) or fname.startswith("model") and ".safetensors" in fname:
            continue
        if fname in ("README.md", "training_log.json", "eval.json", "finetune_log.json"):
            continue
        shutil.copyfile(src, os.path.join(out, fname))
    save_state_dict(out, sd, dtypes)
    with open(os.path.join(out, "finetune_log.json"), "w") as f:
        json.dump(log, f, separators=(",", ":"))
    ini, fin = log["initial"], log["final"]
    lines = [f"# fine-tuned {os.path.basename(os.path.normpath(model_dir))}", "",
             f"Fine-tuned by `models/train/finetune.py` from `{log['model']}` ({spec.family}).", "",
             f"- plan: {json.dumps(log['plan']) if not isinstance(log['plan'], str) else log['plan']}",
             f"- trainable parameters: {log['trainable_params']:,} of {log['params_total']:,}",
             f"- data: {json.dumps(log['data'])}; {log['steps']} steps of batch {log['batch']}, AdamW lr {log['lr']}, "
             f"weight decay {log['weight_decay']}, seed {log['seed']}; loss on answer tokens only",
             f"- eval ({log['eval_n']} prompts of {log['eval_file']}): exact match "
             f"{ini.get('eval_accuracy', float('nan')):.2%} before, {fin.get('eval_accuracy', float('nan')):.2%} after",
             f"- {log['train_seconds']} s; `finetune_log.json` holds the loss per step and the eval accuracy every K steps"]
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_dir")
    ap.add_argument("--plan", required=True, help="plan JSON (head mask, element mask or LoraConfig), or full / mlp")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--task", help="add-3d, add:D[:eos], mul-2d (mul:2:pad:reversed)")
    src.add_argument("--prompts", help="JSONL prompt file (prompt, answer)")
    ap.add_argument("--steps", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--weight-decay", type=float, default=0.0)
    ap.add_argument("--eval-every", type=int, default=50)
    ap.add_argument("--eval", dest="eval_file", help="eval prompt file (default MODEL_DIR/heldout.jsonl)")
    ap.add_argument("--eval-n", type=int, help="evaluate on the first N eval prompts")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        plan = load_plan(args.plan)
        finetune(args.model_dir, plan, args.out, args.steps, task=args.task, prompts=args.prompts, seed=args.seed,
                 lr=args.lr, batch=args.batch, eval_every=args.eval_every, eval_file=args.eval_file,
                 eval_n=args.eval_n, weight_decay=args.weight_decay, plan_source=args.plan)
    except (PlanError, checkpoints.CheckpointError) as e:
        print(f"finetune.py: {e}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
