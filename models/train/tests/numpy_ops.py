"""Independent float64 numpy building blocks for the reference tests.

Each function is written from the paper's formula with explicit loops where the layout matters
(heads, kv groups, rotary pairs), never by calling reference.py, so a test compares two separate
derivations of the same forward."""
import math

import numpy as np


def layer_norm(x, w=None, b=None, eps=1e-5):
    """(x - mean) / sqrt(var + eps) over the last axis, then optional affine."""
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    y = (x - mu) / np.sqrt(var + eps)
    if w is not None:
        y = y * w
    if b is not None:
        y = y + b
    return y


def rms_norm(x, w, eps):
    return x / np.sqrt((x ** 2).mean(-1, keepdims=True) + eps) * w


def relu(x):
    return np.maximum(x, 0.0)


def gelu_erf(x):
    """x * Phi(x), Phi the standard normal CDF."""
    return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


def gelu_tanh(x):
    """GPT-2's gelu_new: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def silu(x):
    return x / (1.0 + np.exp(-x))


ACTS = {"relu": relu, "gelu": gelu_erf, "gelu_new": gelu_tanh, "silu": silu}


def rope_pairs(x, pos, rotary_dim, base):
    """One head's vector x [dh] at position pos: feature pair (i, i + rotary_dim/2) is a 2-D point
    rotated by angle pos * base^(-2i / rotary_dim); features >= rotary_dim are left alone."""
    y = np.array(x, dtype=np.float64, copy=True)
    half = rotary_dim // 2
    for i in range(half):
        angle = pos * base ** (-2.0 * i / rotary_dim)
        c, s = math.cos(angle), math.sin(angle)
        a, b = x[i], x[i + half]
        y[i] = a * c - b * s
        y[i + half] = a * s + b * c
    return y


def rotate_heads(x, rotary_dim, base):
    """x [T, H, dh] -> every head at every position rotated by rope_pairs."""
    out = np.empty_like(x)
    for t in range(x.shape[0]):
        for h in range(x.shape[1]):
            out[t, h] = rope_pairs(x[t, h], t, rotary_dim, base)
    return out


def causal_attention(q, k, v, scale):
    """q [T, H, dh]; k, v [T, Hkv, dh]. Query head h reads kv head h // (H / Hkv).
    Returns scores [H, T, T] (-inf above the diagonal), pattern [H, T, T], z [T, H, dh]."""
    T, H, _ = q.shape
    group = H // k.shape[1]
    scores = np.full((H, T, T), -np.inf)
    pattern = np.zeros((H, T, T))
    z = np.zeros(q.shape)
    for h in range(H):
        kv = h // group
        for i in range(T):
            for j in range(i + 1):
                scores[h, i, j] = float(q[i, h] @ k[j, kv]) / scale
            row = scores[h, i, :i + 1]
            e = np.exp(row - row.max())
            pattern[h, i, :i + 1] = e / e.sum()
            for j in range(i + 1):
                z[i, h] += pattern[h, i, j] * v[j, kv]
    return scores, pattern, z


def _float64(x):
    return np.asarray(x.detach().numpy() if hasattr(x, "detach") else x, dtype=np.float64)


def assert_close(name, actual, expected, tol=1e-5):
    """Compare a torch/numpy tensor with a float64 expectation; -inf must match -inf exactly.
    The failure message carries the max absolute difference."""
    a, e = _float64(actual), _float64(expected)
    assert a.shape == e.shape, f"{name}: shape {a.shape} != expected {e.shape}"
    inf_a, inf_e = np.isinf(a), np.isinf(e)
    assert (inf_a == inf_e).all(), f"{name}: infinities at different places"
    assert (a[inf_a] == e[inf_e]).all(), f"{name}: infinities of different sign"
    diff = np.abs(a[~inf_a] - e[~inf_e]).max() if (~inf_a).any() else 0.0
    assert diff <= tol, f"{name}: max abs diff {diff:.3g} > {tol}"
    return diff
