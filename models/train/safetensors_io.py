"""Read and write safetensors files in the standard layout (8-byte little-endian header length,
JSON header, little-endian tensor data), without the safetensors package, which Debian lacks."""
import json
import struct

import torch

_DTYPES = {"F32": (torch.float32, 4), "F16": (torch.float16, 2), "BF16": (torch.bfloat16, 2),
           "I64": (torch.int64, 8), "I32": (torch.int32, 4)}
_NAMES = {v[0]: k for k, v in _DTYPES.items()}


def save(tensors, path, metadata=None, dtype=None):
    """Write {name: tensor} to path. dtype (a torch dtype) converts float tensors on the way out."""
    header, chunks, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        if dtype is not None and t.is_floating_point():
            t = t.to(dtype)
        if t.dtype not in _NAMES:
            raise ValueError(f"{name}: unsupported dtype {t.dtype}")
        # bfloat16 has no numpy view in torch 1.13: reinterpret its bits as int16.
        raw = (t.view(torch.int16) if t.dtype == torch.bfloat16 else t).numpy().tobytes()
        header[name] = {"dtype": _NAMES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)  # align data to 8 bytes, as the reference writer does
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for c in chunks:
            f.write(c)


def load(path):
    """Read a safetensors file into {name: float32-or-integer tensor} (F16/BF16 widened to f32)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    out = {}
    for name, info in header.items():
        dtype, size = _DTYPES[info["dtype"]]
        a, b = info["data_offsets"]
        buf = bytearray(data[8 + n + a:8 + n + b])
        if a == b:  # torch.frombuffer refuses an empty buffer; a zero-element tensor is still valid
            t = torch.zeros(info["shape"], dtype=dtype)
        elif dtype == torch.bfloat16:
            t = torch.frombuffer(buf, dtype=torch.int16).view(torch.bfloat16)
        else:
            t = torch.frombuffer(buf, dtype=dtype)
        t = t.reshape(info["shape"]) if info["shape"] else t.reshape(())
        out[name] = t.float() if t.is_floating_point() else t.clone()
    return out
