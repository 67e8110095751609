import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SUBTASK_CLASSES, columnSubtasks, digitAtAnswerPosition } from '../../src/lib/core/tasks';

const fx = JSON.parse(readFileSync(new URL('../fixtures/subtasks-mul2.json', import.meta.url), 'utf8')) as {
	n_answer_digits: number; classes: string[]; s: number[]; c: number[]; carry_out: number[]; z: string; class: string;
	pairs: Record<string, [number, number][][]>;
};

describe('columnSubtasks', () => {
	it('matches tasks.column_subtasks on all 10,000 two-digit pairs', () => {
		expect(fx.classes).toEqual([...SUBTASK_CLASSES]);
		const n = fx.n_answer_digits;
		const mismatches: string[] = [];
		for (let a = 0; a < 100; a++) for (let b = 0; b < 100; b++) {
			const got = columnSubtasks(a, b, n);
			const pairs = fx.pairs[`${String(a).length},${String(b).length}`];
			got.forEach((d, i) => {
				const k = (a * 100 + b) * n + i;
				const want = { digit: i, s: fx.s[k], c: fx.c[k], z: Number(fx.z[k]), carryOut: fx.carry_out[k], class: fx.classes[Number(fx.class[k])], pairs: pairs[i] };
				const { carryChain: _, ...mine } = d;
				if (JSON.stringify(mine) !== JSON.stringify(want)) mismatches.push(`${a}x${b} digit ${i}: ${JSON.stringify(mine)} != ${JSON.stringify(want)}`);
			});
		}
		expect(mismatches.slice(0, 5)).toEqual([]);
	});

	it('follows carries down the columns that pass them on', () => {
		// 99 × 99 = 9801: s = [81, 162, 81, 0], c = [0, 8, 17, 9]
		const d = columnSubtasks(99, 99, 4);
		expect(d.map((x) => [x.s, x.c, x.z, x.class])).toEqual([[81, 0, 1, 'CM'], [162, 8, 0, 'US10'], [81, 17, 8, 'UC'], [0, 9, 9, 'Carry']]);
		expect(d.map((x) => x.carryChain)).toEqual([[], [0], [1, 0], [2, 1, 0]]);
		// 25 × 4 = 100: column 1 gets column 0's carry and passes one on; the chain ends at column 0 (c_0 = 0)
		expect(columnSubtasks(25, 4, 3).map((x) => x.carryChain)).toEqual([[], [0], [1, 0]]);
		expect(columnSubtasks(11, 11, 4).map((x) => x.carryChain)).toEqual([[], [], [], []]);
	});

	it('refuses too few answer digits, as the reference asserts', () => {
		expect(() => columnSubtasks(99, 99, 3)).toThrow(/9801 needs more than 3 answer digits/);
	});

	it('maps answer positions to digits for both answer orders', () => {
		expect([0, 1, 2, 3].map((t) => digitAtAnswerPosition(t, 4, true))).toEqual([0, 1, 2, 3]);
		expect([0, 1, 2, 3].map((t) => digitAtAnswerPosition(t, 4, false))).toEqual([3, 2, 1, 0]);
	});
});
