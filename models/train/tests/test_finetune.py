"""finetune.py: applying a head-mask plan leaves every element outside its slices bit-identical (every
family's fixture folder), the plans of the TypeScript CLI are what the Python twin builds, LoRA
(gpt2 / llama) merges into the attention weights only, and a plan that does not match the model is
refused naming the tensor.

The plans under fixtures/finetune/ were written once by the CLI:
    node bin/arithlens.js scan --model test/fixtures/models/<fx> --task add:2 --n 8 --method mean --json s.json
    node bin/arithlens.js plan --scan s.json --top 2 --format mask|peft --model test/fixtures/models/<fx> \
        --out models/train/tests/fixtures/finetune/<fx>.mask.json|.peft.json
"""
import copy
import json
import os
import subprocess

import pytest
import torch

import checkpoints
import finetune as ft
import tokenizer as tok

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
MODELS = os.path.join(ROOT, "test", "fixtures", "models")
PLANS = os.path.join(HERE, "fixtures", "finetune")
CLI_PLANNED = ["tiny-gpt2", "tiny-llama-gqa", "tiny-qwen2-bf16-sharded", "tiny-neox-parallel", "tl-rms-silu-rotary"]
ALL = sorted(os.listdir(MODELS))

torch.set_num_threads(1)


def bits(t):
    """f32 (as load_state_dict widens) viewed as int32: equality is bit equality, -0.0 != 0.0."""
    return t.contiguous().view(torch.int32) if t.dtype == torch.float32 else t


def load_plan(fx, kind="mask"):
    with open(os.path.join(PLANS, f"{fx}.{kind}.json")) as f:
        return json.load(f)


def plan_for(fx):
    if fx in CLI_PLANNED:
        return load_plan(fx)
    spec = checkpoints.load_folder(os.path.join(MODELS, fx))[0]
    sd = checkpoints.load_state_dict(os.path.join(MODELS, fx))
    return ft.head_mask_plan(spec, [(1, spec.n_heads - 1), (0, 0)], ft.checkpoint_shapes(spec, sd))


@pytest.mark.parametrize("fx", CLI_PLANNED)
def test_python_plan_equals_cli_plan(fx):
    cli = load_plan(fx)
    spec = checkpoints.load_folder(os.path.join(MODELS, fx))[0]
    mine = ft.head_mask_plan(spec, [(h["layer"], h["head"]) for h in cli["heads"]])
    assert mine["heads"] == cli["heads"]
    assert mine["tensor_shapes"] == cli["tensor_shapes"]
    assert (mine["params_touched"], mine["params_total"]) == (cli["params_touched"], cli["params_total"])


@pytest.mark.parametrize("fx", ALL)
def test_mask_plan_leaves_everything_outside_its_slices_bit_identical(fx, tmp_path):
    src = os.path.join(MODELS, fx)
    plan = plan_for(fx)
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan))
    out = tmp_path / "out"
    rc = ft.main([src, "--plan", str(plan_file), "--task", "add:2", "--steps", "3", "--out", str(out),
                  "--seed", "1", "--lr", "0.02", "--batch", "8", "--eval-every", "3"])
    assert rc == 0
    spec, model, _ = checkpoints.load_folder(str(out))  # the output loads as a model folder
    before, after = checkpoints.load_state_dict(src), checkpoints.load_state_dict(str(out))
    assert sorted(before) == sorted(after)
    assert ft.source_dtypes(src) == ft.source_dtypes(str(out))
    masks = ft.masks_from_plan(plan, spec, before)
    inside_changed = 0
    for name, t in before.items():
        m = masks.get(name, torch.zeros_like(t, dtype=torch.bool))
        assert torch.equal(bits(t)[~m], bits(after[name])[~m]), name
        inside_changed += int((bits(t)[m] != bits(after[name])[m]).sum())
    assert inside_changed > 0.5 * sum(int(m.sum()) for m in masks.values())
    log = json.load(open(out / "finetune_log.json"))
    assert [e["step"] for e in log["log"]] == [0, 1, 2, 3] and all("loss" in e for e in log["log"][1:])
    assert (out / "README.md").exists() and (out / "tokenizer.json").exists()


def test_mismatched_plans_are_refused_naming_the_tensor(tmp_path, capsys):
    gpt2, llama = os.path.join(MODELS, "tiny-gpt2"), os.path.join(MODELS, "tiny-llama-gqa")
    spec = checkpoints.load_folder(gpt2)[0]
    sd = checkpoints.load_state_dict(gpt2)
    plan = load_plan("tiny-gpt2")
    with pytest.raises(ft.PlanError, match="family 'gpt2' does not match the model's family 'llama'"):
        ft.finetune(llama, plan, None, 1, task="add:2")
    bad = copy.deepcopy(plan)
    name = "transformer.h.1.attn.c_attn.weight"
    bad["tensor_shapes"][name] = [16, 40]
    with pytest.raises(ft.PlanError, match=rf"tensor {name} has shape \[16, 40\] in the plan but \[16, 48\]"):
        ft.masks_from_plan(bad, spec, sd)
    bad = copy.deepcopy(plan)
    bad["heads"][0]["slices"][0]["start"] += 1
    bad["heads"][0]["slices"][0]["end"] += 1
    with pytest.raises(ft.PlanError, match=rf"slice {name}\[5:9\] on dim 1 .*not where this model keeps"):
        ft.masks_from_plan(bad, spec, sd)
    bad = copy.deepcopy(plan)
    bad["heads"][0]["slices"][0]["end"] = 99
    with pytest.raises(ft.PlanError, match=rf"slice {name}\[4:99\] on dim 1 does not fit its shape \[16, 48\]"):
        ft.masks_from_plan(bad, spec, sd)
    bad = copy.deepcopy(plan)
    bad["heads"][0]["slices"] = bad["heads"][0]["slices"][:-1]
    with pytest.raises(ft.PlanError, match=r"its slice of tensor transformer.h.1.attn.c_proj.weight is missing"):
        ft.masks_from_plan(bad, spec, sd)
    # a plan from a bigger gpt2 names a tensor the model lacks; through the CLI: exit 2, nothing written
    big = ft.head_mask_plan(checkpoints.spec_from_config({**json.load(open(os.path.join(gpt2, "config.json"))), "n_layer": 3}), [(2, 0)])
    plan_file = tmp_path / "big.json"
    plan_file.write_text(json.dumps(big))
    rc = ft.main([gpt2, "--plan", str(plan_file), "--task", "add:2", "--steps", "1", "--out", str(tmp_path / "o")])
    assert rc == 2 and not (tmp_path / "o").exists()
    assert "tensor transformer.h.2.attn.c_attn.weight is not in the model" in capsys.readouterr().err
    with pytest.raises(ft.PlanError, match="finetune.py generates add-3d"):
        ft.finetune(gpt2, plan, None, 1, task="sub:3")


@pytest.mark.parametrize("fx", ["tiny-gpt2", "tiny-llama-gqa"])
def test_lora_merges_into_the_named_modules_only(fx, tmp_path):
    src = os.path.join(MODELS, fx)
    out = tmp_path / "lora"
    rc = ft.main([src, "--plan", os.path.join(PLANS, f"{fx}.peft.json"), "--task", "add:2", "--steps", "3",
                  "--out", str(out), "--lr", "0.02", "--batch", "8"])
    assert rc == 0
    spec = checkpoints.load_folder(str(out))[0]
    before, after = checkpoints.load_state_dict(src), checkpoints.load_state_dict(str(out))
    targets = {n for n, _ in ft.lora_targets(load_plan(fx, "peft"), spec, before)}
    assert targets and all(any(m in n for m in ("attn.c_", "self_attn.")) for n in targets)
    for name, t in before.items():
        if name in targets:
            assert not torch.equal(t, after[name]), name
        else:
            assert torch.equal(bits(t), bits(after[name])), name


def test_lora_on_transformer_lens_is_refused():
    src = os.path.join(MODELS, "tl-rms-silu-rotary")
    with pytest.raises(ft.PlanError, match="transformer_lens family is not supported"):
        ft.finetune(src, load_plan("tl-rms-silu-rotary", "peft"), None, 1, task="add:2")


def test_prompt_file_training_and_tokenizer(tmp_path):
    src = os.path.join(MODELS, "tiny-gpt2")
    tk = ft.Tokenizer(src)
    for text in ("12+34=", "46<eos>", "7*8=65"):
        assert tk.encode(text) == tok.encode(text)
    assert tk.example("12+34=", "46<eos>") == (tok.encode("12+34=46<eos>"), 7)
    recs = [{"prompt": f"{a}+{b}=", "answer": f"{a + b}<eos>"} for a in range(10) for b in range(10)]
    pf = tmp_path / "p.jsonl"
    pf.write_text("".join(json.dumps(r) + "\n" for r in recs))
    log = ft.finetune(src, "full", str(tmp_path / "o"), 4, prompts=str(pf), batch=8, eval_every=2, quiet=True)
    assert log["eval_n"] == 10 and log["data"]["train_records"] == 90
    assert [e["step"] for e in log["log"] if "eval_accuracy" in e] == [0, 2, 4]
    # seeded: the same run gives the same weights
    log2 = ft.finetune(src, "full", str(tmp_path / "o2"), 4, prompts=str(pf), batch=8, eval_every=2, quiet=True)
    assert [e.get("loss") for e in log["log"]] == [e.get("loss") for e in log2["log"]]
    assert open(tmp_path / "o" / "model.safetensors", "rb").read() == open(tmp_path / "o2" / "model.safetensors", "rb").read()


def test_mlp_plan_and_random_elements():
    src = os.path.join(MODELS, "tiny-gpt2")
    spec = checkpoints.load_folder(src)[0]
    sd = checkpoints.load_state_dict(src)
    masks = ft.masks_from_plan("mlp", spec, sd)
    assert sorted(masks) == sorted(k for k in sd if ".mlp." in k)
    plan = ft.random_element_plan(spec, sd, 500, seed=3)
    m = ft.masks_from_plan(plan, spec, sd)
    assert sum(int(v.sum()) for v in m.values()) == 500
    assert set(m) <= set(ft.attention_tensors(spec, sd))


def test_engine_loads_the_fine_tuned_folder(tmp_path):
    src = os.path.join(MODELS, "tiny-gpt2")
    out = tmp_path / "o"
    assert ft.main([src, "--plan", os.path.join(PLANS, "tiny-gpt2.mask.json"), "--task", "add:2", "--steps", "2",
                    "--out", str(out), "--batch", "8"]) == 0
    r = subprocess.run(["node", os.path.join(ROOT, "bin", "arithlens.js"), "eval", "--model", str(out), "--task", "add:2",
                        "--n", "8"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    # the engine reads the fine-tuned weights: its answer logprobs are the reference's on them
    spec, model, _ = checkpoints.load_folder(str(out))
    tk = ft.Tokenizer(str(out))
    for p in res["prompts"]:
        _, lp = ft.accuracy(lambda x: model(x)[0], tk, [{"prompt": p["prompt"], "answer": p["answer"]}])
        assert abs(lp - p["logprob"]) < 1e-3, p["prompt"]
