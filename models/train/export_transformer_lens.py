"""Export a TransformerLens HookedTransformer to the TransformerLens folder format arithlens loads
(DESIGN.md §2): config.json (the HookedTransformerConfig as a JSON-safe dict), model.safetensors
(TransformerLens state-dict names, parameters only) and, when the model has a Hugging Face fast
tokenizer, tokenizer.json + tokenizer_config.json.

    # with transformer_lens installed:
    /usr/bin/python3 models/train/export_transformer_lens.py --model gpt2-small --out models/gpt2-small-tl
    # without it, from a saved state dict and a config dict (e.g. json.dump(model.cfg.to_dict())):
    /usr/bin/python3 models/train/export_transformer_lens.py --from-state-dict sd.pt --config cfg.json \
        --tokenizer-dir some/hf/folder --out models/my-tl-model

The folder is checked by loading it back with checkpoints.load_folder, so a config the engine does not
support (say normalization_type RMSPre, from fold_ln on an RMS model) fails here, not in the browser.
"""
import argparse
import json
import math
import os
import shutil
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checkpoints  # noqa: E402
import safetensors_io  # noqa: E402

DTYPES = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")


def json_safe(value):
    """A JSON value for a config entry, or raise TypeError. torch dtypes and devices become strings
    ("torch.float32", "cpu"), tuples lists, non-finite floats null."""
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (torch.dtype, torch.device)):
        return str(value)
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:
        return json_safe(value.item())  # numpy / torch scalars
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def config_json(cfg_dict):
    """cfg.to_dict() -> (JSON-safe dict, names of entries dropped because they have no JSON form)."""
    out, dropped = {}, []
    for key, value in cfg_dict.items():
        try:
            out[key] = json_safe(value)
        except TypeError:
            dropped.append(key)
    return out, dropped


def is_parameter(name, tensor):
    """HookedTransformer state dicts also hold buffers (attn.mask, attn.IGNORE, rotary sin/cos tables)
    that are recomputed from the config; only floating parameters go into the checkpoint."""
    leaf = name.rsplit(".", 1)[-1]
    return tensor.is_floating_point() and (leaf in ("w", "b") or leaf.lstrip("_")[:2] in ("W_", "b_"))


def export(cfg_dict, state_dict, out, dtype=torch.float32, tokenizer=None, tokenizer_dir=None):
    """Write the folder; returns the Spec it loads back as. tokenizer: a Hugging Face tokenizer
    (saved when it is a fast one); tokenizer_dir: a folder to copy tokenizer files from instead."""
    os.makedirs(out, exist_ok=True)
    config, dropped = config_json(cfg_dict)
    if dropped:
        print(f"config.json: left out {', '.join(dropped)} (no JSON form)", file=sys.stderr)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2, allow_nan=False)
    params = {k: v for k, v in state_dict.items() if is_parameter(k, v)}
    safetensors_io.save(params, os.path.join(out, "model.safetensors"), {"format": "pt"}, dtype)
    if tokenizer_dir:
        for name in TOKENIZER_FILES:
            if os.path.exists(os.path.join(tokenizer_dir, name)):
                shutil.copy(os.path.join(tokenizer_dir, name), os.path.join(out, name))
    elif tokenizer is not None and getattr(tokenizer, "is_fast", False):
        tokenizer.save_pretrained(out)
    else:
        print("no Hugging Face fast tokenizer: add tokenizer.json + tokenizer_config.json to the folder "
              "yourself (arithlens needs them)", file=sys.stderr)
    spec, _, _ = checkpoints.load_folder(out)  # the same name map and checks the engine ports
    return spec


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--model", help="a transformer_lens.HookedTransformer.from_pretrained name")
    src.add_argument("--from-state-dict", help="a torch.save'd HookedTransformer state_dict")
    ap.add_argument("--config", help="JSON file with cfg.to_dict() (required with --from-state-dict)")
    ap.add_argument("--tokenizer-dir", help="copy tokenizer.json / tokenizer_config.json from this folder")
    ap.add_argument("--no-processing", action="store_true",
                    help="load with from_pretrained_no_processing (keeps LN/RMS weights unfolded)")
    ap.add_argument("--dtype", choices=sorted(DTYPES), default="f32")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    tokenizer = None
    if args.model:
        from transformer_lens import HookedTransformer  # only this path needs transformer_lens
        load = HookedTransformer.from_pretrained_no_processing if args.no_processing else HookedTransformer.from_pretrained
        model = load(args.model, device="cpu")
        cfg_dict, state_dict, tokenizer = model.cfg.to_dict(), model.state_dict(), model.tokenizer
    else:
        if not args.config:
            ap.error("--from-state-dict needs --config")
        with open(args.config) as f:
            cfg_dict = json.load(f)
        state_dict = torch.load(args.from_state_dict, map_location="cpu")
    spec = export(cfg_dict, state_dict, args.out, DTYPES[args.dtype], tokenizer, args.tokenizer_dir)
    print(f"wrote {args.out}: {spec.n_layers} layers, {spec.n_heads} heads, d_model {spec.d_model}, "
          f"norm {spec.norm}, act {spec.act}, pos {spec.pos}")


if __name__ == "__main__":
    main()
