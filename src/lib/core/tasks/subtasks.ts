// Multiplication subtasks (DESIGN §8; Qiu et al. 2024, generalised to column sums): for a × b, what
// each answer digit requires — the column sum s_i = Σ_{j+k=i} x_j·y_k, the incoming carry c_i, and
// the resulting class BM / CM / Carry / UC / US10. Mirrors models/train/tasks.py column_subtasks.

import type { PromptRecord } from './promptFile';

export const SUBTASK_CLASSES = ['BM', 'CM', 'Carry', 'UC', 'US10'] as const;
export type SubtaskClass = (typeof SUBTASK_CLASSES)[number];

export interface DigitSubtask {
	/** Answer digit index, 0 = units. */
	digit: number;
	/** Column sum Σ x_j·y_k over j + k = digit. */
	s: number;
	/** Incoming carry (0 for the units digit). */
	c: number;
	/** The answer digit, (s + c) mod 10. */
	z: number;
	carryOut: number;
	class: SubtaskClass;
	/** Operand-digit pairs (j, k), j indexing a's digits and k b's, units first, with j + k = digit. */
	pairs: [number, number][];
	/**
	 * Columns whose carries this digit depends on: digit-1 down to the first column that received no
	 * carry, i.e. the unbroken run of columns below passing a carry up (empty when c = 0).
	 */
	carryChain: number[];
}

function classify(s: number, c: number): SubtaskClass {
	if (c === 0) return s < 10 ? 'BM' : 'CM';
	if (s === 0) return 'Carry';
	return (s % 10) + (c % 10) < 10 ? 'UC' : 'US10';
}

/** Digits of a non-negative integer, units first, as written without padding (so 7 has one digit). */
const digitsOf = (v: number): number[] => [...String(v)].reverse().map(Number);

export function columnSubtasks(a: number, b: number, nAnswerDigits: number): DigitSubtask[] {
	if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b) || a < 0 || b < 0) {
		throw new RangeError(`columnSubtasks: operands must be non-negative integers, got ${a} and ${b}`);
	}
	const x = digitsOf(a);
	const y = digitsOf(b);
	const out: DigitSubtask[] = [];
	let carry = 0;
	for (let i = 0; i < nAnswerDigits; i++) {
		const pairs: [number, number][] = [];
		for (let j = 0; j < x.length; j++) if (i - j >= 0 && i - j < y.length) pairs.push([j, i - j]);
		const s = pairs.reduce((sum, [j, k]) => sum + x[j] * y[k], 0);
		const c = carry;
		const total = s + c;
		const carryChain: number[] = [];
		if (c > 0) for (let j = i - 1; j >= 0; j--) {
			carryChain.push(j);
			if (out[j].c === 0) break;
		}
		out.push({ digit: i, s, c, z: total % 10, carryOut: Math.floor(total / 10), class: classify(s, c), pairs, carryChain });
		carry = Math.floor(total / 10);
	}
	const product = out.reduce((v, d) => v + d.z * 10 ** d.digit, 0);
	if (carry !== 0 || product !== a * b) {
		throw new RangeError(`columnSubtasks: ${a} × ${b} = ${a * b} needs more than ${nAnswerDigits} answer digits`);
	}
	return out;
}

/** Which answer digit (0 = units) the answer character at `position` writes, for an answer of `width` digits. */
export const digitAtAnswerPosition = (position: number, width: number, reversed: boolean): number =>
	reversed ? position : width - 1 - position;

/**
 * Operands a, b of a multiplication record: the generator's meta.a / meta.b, else the numbers either
 * side of the prompt's last `*`, `×` or `times` (the problem a few-shot prompt asks); null for a record
 * of another operation (meta.op) or a prompt with no product.
 */
export function productOperands(r: PromptRecord): [number, number] | null {
	const meta = r.meta as { op?: string; a?: unknown; b?: unknown } | undefined;
	if (meta?.op !== undefined && meta.op !== 'mul') return null;
	if (Number.isSafeInteger(meta?.a) && Number.isSafeInteger(meta?.b)) return [meta!.a as number, meta!.b as number];
	const m = [...r.prompt.matchAll(/(\d+)\s*(?:[*×]|times)\s*(\d+)/g)].at(-1);
	return m ? [Number(m[1]), Number(m[2])] : null;
}
