"""Arithmetic task formats of the shipped models, counterfactual prompts and the multiplication
subtask classes of Qiu et al. 2024 (DESIGN.md §8)."""
import random

SUBTASKS = ["BM", "CM", "Carry", "UC", "US10"]


def add_example(a, b):
    """add-3d: `a+b=` unpadded, answer most-significant digit first, then <eos>."""
    return f"{a}+{b}=", f"{a + b}<eos>"


def mul_example(a, b):
    """mul-2d: operands zero-padded to 2 digits, product zero-padded to 4 digits, written reversed."""
    return f"{a:02d}*{b:02d}=", f"{a * b:04d}"[::-1]


FORMATS = {"add": add_example, "mul": mul_example}


def counterfactual(op, a, b, rng, tries=200):
    """Change one operand, keeping its digit count (so the prompt keeps its token count), so that
    the first answer token changes (logit diff and path patching score that token). Among those,
    prefer a counterfactual whose answer keeps its length; e.g. 999+1=1000 has no same-length
    counterfactual with another leading digit, so it takes a 3-digit sum instead."""
    make = FORMATS[op]
    prompt, answer = make(a, b)

    def digit_range(v):
        if op == "mul":
            return 0, 99
        return (10 ** (len(str(v)) - 1) if v >= 10 else 0), 10 ** len(str(v)) - 1

    first_changed = any_changed = None
    for _ in range(tries):
        if rng.random() < 0.5:
            lo, hi = digit_range(b)
            a2, b2 = a, rng.randint(lo, hi)
        else:
            lo, hi = digit_range(a)
            a2, b2 = rng.randint(lo, hi), b
        p2, ans2 = make(a2, b2)
        if len(p2) != len(prompt) or ans2 == answer:
            continue
        if ans2[0] != answer[0]:
            if len(ans2) == len(answer):
                return a2, b2
            first_changed = first_changed or (a2, b2)
        any_changed = any_changed or (a2, b2)
    return first_changed or any_changed


def column_subtasks(a, b, n_answer_digits):
    """For a x b, per answer digit i (0 = units): dict with column sum s, incoming carry c, digit z,
    outgoing carry, subtask class and the operand-digit pairs (j, k) with j + k = i."""
    x = [int(d) for d in str(a)[::-1]]
    y = [int(d) for d in str(b)[::-1]]
    out, carry = [], 0
    for i in range(n_answer_digits):
        pairs = [(j, i - j) for j in range(len(x)) if 0 <= i - j < len(y)]
        s = sum(x[j] * y[k] for j, k in pairs)
        c = carry
        total = s + c
        if c == 0:
            cls = "BM" if s < 10 else "CM"
        elif s == 0:
            cls = "Carry"
        else:
            cls = "UC" if (s % 10) + (c % 10) < 10 else "US10"
        out.append({"digit": i, "s": s, "c": c, "z": total % 10, "carry_out": total // 10, "class": cls,
                    "pairs": pairs})
        carry = total // 10
    assert sum(d["z"] * 10 ** d["digit"] for d in out) == a * b, (a, b)
    return out


def heldout_record(op, a, b, cf):
    prompt, answer = FORMATS[op](a, b)
    rec = {"prompt": prompt, "answer": answer}
    if cf is not None:
        p2, ans2 = FORMATS[op](*cf)
        rec["counterfactual"] = {"prompt": p2, "answer": ans2}
    rec["meta"] = {"op": op, "a": a, "b": b}
    if op == "mul":
        rec["meta"]["subtasks"] = [d["class"] for d in column_subtasks(a, b, 4)]
    return rec
