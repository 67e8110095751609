"""safetensors_io: the file layout is parsed here by hand (8-byte little-endian header length, JSON
header, 8-byte aligned data) and values round-trip in F32, F16, BF16 and integer dtypes."""
import json
import struct

import numpy as np
import pytest
import torch

import safetensors_io


def parse(path):
    """(header dict, data bytes, header length) read with struct/json only."""
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8:8 + n]), raw[8 + n:], n


def sample():
    g = torch.Generator().manual_seed(0)
    return {"a.weight": torch.randn(3, 5, generator=g), "b": torch.randn(7, generator=g), "scalar": torch.tensor(2.5),
            "empty": torch.zeros(0, 4)}


def test_header_layout_and_alignment(tmp_path):
    path = tmp_path / "x.safetensors"
    tensors = sample()
    safetensors_io.save(tensors, path, metadata={"format": "pt", "n": 3})
    header, data, n = parse(path)
    assert (8 + n) % 8 == 0, "data must start 8-byte aligned"
    assert header.pop("__metadata__") == {"format": "pt", "n": "3"}  # metadata values are strings
    end = 0
    for name in sorted(header, key=lambda k: header[k]["data_offsets"][0]):
        info = header[name]
        assert info["dtype"] == "F32" and info["shape"] == list(tensors[name].shape)
        a, b = info["data_offsets"]
        assert a == end and b - a == 4 * tensors[name].numel()  # contiguous, no gaps
        values = np.frombuffer(data[a:b], dtype="<f4").reshape(info["shape"])
        np.testing.assert_array_equal(values, tensors[name].numpy())
        end = b
    assert end == len(data)


@pytest.mark.parametrize("dtype, np_dtype, name", [(torch.float32, "<f4", "F32"), (torch.float16, "<f2", "F16")])
def test_float_round_trip(tmp_path, dtype, np_dtype, name):
    path = tmp_path / "x.safetensors"
    tensors = sample()
    safetensors_io.save(tensors, path, dtype=dtype)
    header, data, _ = parse(path)
    for k, t in tensors.items():
        a, b = header[k]["data_offsets"]
        assert header[k]["dtype"] == name
        expected = t.numpy().astype(np_dtype)  # numpy's own f32 -> f16 rounding
        np.testing.assert_array_equal(np.frombuffer(data[a:b], dtype=np_dtype).reshape(t.shape), expected)
    back = safetensors_io.load(path)
    for k, t in tensors.items():
        assert back[k].dtype == torch.float32
        np.testing.assert_array_equal(back[k].numpy(), t.numpy().astype(np_dtype).astype(np.float32))


def test_bf16_is_the_top_16_bits_of_f32(tmp_path):
    path = tmp_path / "x.safetensors"
    # exactly representable in bf16 (8 significant bits): written bits must be the f32's top half
    values = np.array([1.0, -2.5, 0.15625, 2.0 ** 127, -(2.0 ** -126), 0.0, 1232.0], dtype=np.float32)
    safetensors_io.save({"t": torch.tensor(values)}, path, dtype=torch.bfloat16)
    header, data, _ = parse(path)
    assert header["t"]["dtype"] == "BF16"
    written = np.frombuffer(data, dtype="<u2")
    np.testing.assert_array_equal(written, (values.view("<u4") >> 16).astype("<u2"))
    np.testing.assert_array_equal(safetensors_io.load(path)["t"].numpy(), values)


def test_bf16_reader_widens_by_shifting(tmp_path):
    """A BF16 file composed byte by byte here: value = the 16 bits shifted into the top of an f32."""
    bits = np.array([0x3F80, 0xC040, 0x3E20, 0x7F7F, 0x0001], dtype="<u2")  # 1, -3, 0.15625, ~3.39e38, tiny subnormal
    header = json.dumps({"w": {"dtype": "BF16", "shape": [5], "data_offsets": [0, 10]}}).encode()
    path = tmp_path / "hand.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + bits.tobytes())  # unaligned header: readers must cope
    expected = (bits.astype("<u4") << 16).view("<f4")
    np.testing.assert_array_equal(safetensors_io.load(path)["w"].numpy(), expected)
    assert list(expected[:3]) == [1.0, -3.0, 0.15625]


def test_bf16_rounds_to_nearest(tmp_path):
    """1 + 2^-8 + 2^-9 lies past the midpoint between bf16 neighbours 1 + 2^-8... and 1 + 2^-7."""
    path = tmp_path / "x.safetensors"
    safetensors_io.save({"t": torch.tensor([1 + 2 ** -8 + 2 ** -9, 1 + 2 ** -9])}, path, dtype=torch.bfloat16)
    assert safetensors_io.load(path)["t"].tolist() == [1 + 2 ** -7, 1.0]


def test_integer_tensors_round_trip(tmp_path):
    path = tmp_path / "x.safetensors"
    t = {"ids": torch.tensor([[1, -5, 2 ** 40]], dtype=torch.int64), "n": torch.tensor([3, 4], dtype=torch.int32)}
    safetensors_io.save(t, path, dtype=torch.float16)  # dtype converts float tensors only
    header, _, _ = parse(path)
    assert (header["ids"]["dtype"], header["n"]["dtype"]) == ("I64", "I32")
    back = safetensors_io.load(path)
    assert torch.equal(back["ids"], t["ids"]) and torch.equal(back["n"], t["n"])
