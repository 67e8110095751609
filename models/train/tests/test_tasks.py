"""Task formats, counterfactuals and the multiplication subtask classes of DESIGN §8, on worked
examples and exhaustively over all 2-digit pairs against the definitions restated here."""
import random

import pytest

import tasks
import tokenizer as tok


def classes(a, b, n=4):
    return [d["class"] for d in tasks.column_subtasks(a, b, n)]


def test_formats():
    assert tasks.add_example(12, 34) == ("12+34=", "46<eos>")
    assert tasks.add_example(999, 1) == ("999+1=", "1000<eos>")
    assert tasks.mul_example(7, 35) == ("07*35=", "5420")  # 245 -> "0245" written units first
    assert tasks.mul_example(99, 99) == ("99*99=", "1089")


def test_12_times_34():
    # 408: col0 2*4=8 BM; col1 2*3+1*4=10 CM (carry 1); col2 1*3=3 plus carry 1 = 4 UC; col3 empty BM
    d = tasks.column_subtasks(12, 34, 4)
    assert [(c["s"], c["c"], c["z"], c["carry_out"]) for c in d] == [(8, 0, 8, 0), (10, 0, 0, 1), (3, 1, 4, 0), (0, 0, 0, 0)]
    assert classes(12, 34) == ["BM", "CM", "UC", "BM"]
    assert [c["pairs"] for c in d[:3]] == [[(0, 0)], [(0, 1), (1, 0)], [(1, 1)]]


def test_99_times_99():
    # 9801: s = 81, 162, 81, 0; carries 0, 8, 17, 9.  col1: 2 + 8 = 10 -> US10; col2: 1 + 7 = 8 -> UC;
    # col3: s = 0 with carry 9 -> Carry
    d = tasks.column_subtasks(99, 99, 4)
    assert [(c["s"], c["c"], c["z"]) for c in d] == [(81, 0, 1), (162, 8, 0), (81, 17, 8), (0, 9, 9)]
    assert classes(99, 99) == ["CM", "US10", "UC", "Carry"]


def test_7_times_35():
    # 245: col0 35 CM carry 3; col1 21 + 3 -> UC (1 + 3 < 10), carry 2; col2 s = 0, carry 2 -> Carry; col3 BM
    d = tasks.column_subtasks(7, 35, 4)
    assert [(c["s"], c["c"], c["z"]) for c in d] == [(35, 0, 5), (21, 3, 4), (0, 2, 2), (0, 0, 0)]
    assert classes(7, 35) == ["CM", "UC", "Carry", "BM"]


def test_5_times_0():
    assert classes(5, 0) == ["BM"] * 4
    assert [c["z"] for c in tasks.column_subtasks(5, 0, 4)] == [0, 0, 0, 0]


def test_all_two_digit_pairs_follow_the_definitions():
    counts = dict.fromkeys(tasks.SUBTASKS, 0)
    for a in range(100):
        for b in range(100):
            x, y = [a % 10, a // 10], [b % 10, b // 10]  # digits, units first (zero-padded)
            carry = 0
            cols = tasks.column_subtasks(a, b, 4)
            assert len(cols) == 4
            for i, col in enumerate(cols):
                s = sum(x[j] * y[i - j] for j in range(2) if 0 <= i - j < 2)
                assert (col["digit"], col["s"], col["c"]) == (i, s, carry), (a, b, i)
                assert col["z"] == (s + carry) % 10 and col["carry_out"] == (s + carry) // 10
                if carry == 0:
                    want = "BM" if s < 10 else "CM"
                elif s == 0:
                    want = "Carry"
                else:
                    want = "UC" if s % 10 + carry % 10 < 10 else "US10"
                assert col["class"] == want, (a, b, i)
                assert all(j + k == i for j, k in col["pairs"])
                counts[want] += 1
                carry = col["carry_out"]
            assert carry == 0, (a, b)  # four digits hold every 2-digit product
            assert sum(c["z"] * 10 ** c["digit"] for c in cols) == a * b
            assert "".join(str(c["z"]) for c in cols) == tasks.mul_example(a, b)[1]
    assert all(counts.values()), counts  # every class occurs


def pairs(op, n, seed=1):
    data = random.Random(seed)
    hi = 999 if op == "add" else 99
    return [(data.randint(0, hi), data.randint(0, hi)) for _ in range(n)]


@pytest.mark.parametrize("op", ["add", "mul"])
def test_counterfactuals_keep_prompt_length_and_change_the_answer(op):
    rng = random.Random(0)
    for a, b in pairs(op, 300):
        prompt, answer = tasks.FORMATS[op](a, b)
        cf = tasks.counterfactual(op, a, b, rng)
        if cf is None:
            assert op == "mul" and (a, b) == (0, 0)  # 00*00: changing one operand keeps the product 0
            continue
        p2, ans2 = tasks.FORMATS[op](*cf)
        assert len(p2) == len(prompt) and len(tok.encode(p2)) == len(tok.encode(prompt)), (a, b, cf)
        assert ans2 != answer
        assert cf[0] == a or cf[1] == b  # one operand changes


@pytest.mark.parametrize("op", ["add", "mul"])
def test_counterfactual_first_answer_token_differs_where_possible(op):
    """Logit diff compares first answer tokens, so they must differ. For a sum that carries into a new
    leading digit ('1...') no same-length answer can change it, so those are left out for add."""
    rng = random.Random(0)
    checked = strict = 0
    for a, b in pairs(op, 400):
        if op == "add" and len(str(a + b)) > max(len(str(a)), len(str(b))):
            continue
        cf = tasks.counterfactual(op, a, b, rng)
        if cf is None:
            continue
        answer, ans2 = tasks.FORMATS[op](a, b)[1], tasks.FORMATS[op](*cf)[1]
        checked += 1
        strict += len(ans2) == len(answer) and ans2[0] != answer[0]
    assert checked > 150 and strict >= 0.97 * checked, (checked, strict)


def test_heldout_record():
    rec = tasks.heldout_record("mul", 12, 34, (12, 35))
    assert rec == {"prompt": "12*34=", "answer": "8040", "counterfactual": {"prompt": "12*35=", "answer": "0240"},
                   "meta": {"op": "mul", "a": 12, "b": 34, "subtasks": ["BM", "CM", "UC", "BM"]}}
