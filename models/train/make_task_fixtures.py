"""Golden fixtures for the TypeScript task code (src/lib/core/tasks), from tasks.py:

    /usr/bin/python3 models/train/make_task_fixtures.py     # -> test/fixtures/subtasks-mul2.json, task-formats.json

subtasks-mul2.json: column_subtasks(a, b, 4) for all 10,000 pairs a, b in 0..99, stored compactly as
  flat per-digit columns (index (a * 100 + b) * 4 + digit): s, c, carry_out as integer arrays, z and
  class (index into classes) as strings of one character per digit; pairs depend only on the operands'
  written digit counts, so they are stored once per "<len a>,<len b>".
task-formats.json: the prompt/answer strings of tasks.FORMATS for edge cases and seeded random pairs.
"""
import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tasks  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "test", "fixtures")


def subtasks_mul2():
    s, c, carry_out, z, cls, pairs = [], [], [], [], [], {}
    for a in range(100):
        for b in range(100):
            digits = tasks.column_subtasks(a, b, 4)
            pairs.setdefault(f"{len(str(a))},{len(str(b))}", [[list(p) for p in d["pairs"]] for d in digits])
            for d in digits:
                s.append(d["s"])
                c.append(d["c"])
                carry_out.append(d["carry_out"])
                z.append(str(d["z"]))
                cls.append(str(tasks.SUBTASKS.index(d["class"])))
    return {"generator": "models/train/make_task_fixtures.py", "n_answer_digits": 4, "classes": tasks.SUBTASKS,
            "index": "(a * 100 + b) * 4 + digit, digit 0 = units", "s": s, "c": c, "carry_out": carry_out,
            "z": "".join(z), "class": "".join(cls), "pairs": pairs}


def formats():
    rng = random.Random(7)
    add = [(0, 0), (0, 999), (999, 999), (5, 7), (10, 90), (100, 900), (1, 9)]
    add += [(rng.randint(0, 999), rng.randint(0, 999)) for _ in range(200)]
    mul = [(0, 0), (99, 99), (5, 7), (10, 10), (1, 99), (9, 11), (50, 2)]
    mul += [(rng.randint(0, 99), rng.randint(0, 99)) for _ in range(200)]
    out = {"generator": "models/train/make_task_fixtures.py"}
    for op, pairs in (("add", add), ("mul", mul)):
        out[op] = [{"a": a, "b": b, "prompt": p, "answer": ans} for a, b in pairs for p, ans in [tasks.FORMATS[op](a, b)]]
    return out


def main():
    with open(os.path.join(OUT, "subtasks-mul2.json"), "w") as f:
        json.dump(subtasks_mul2(), f, separators=(",", ":"))
    with open(os.path.join(OUT, "task-formats.json"), "w") as f:
        json.dump(formats(), f, indent=0)


if __name__ == "__main__":
    main()
