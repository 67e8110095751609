// Modular tasks for the neuron lens (DESIGN §10): the seeded split, label corruption and the meta
// every record carries; spec strings round-trip and bad ones fail naming the valid values.
import { describe, expect, it } from 'vitest';
import { distinctProblems, formatTaskSpec, generatePrompts, modularData, modularValue, parseTaskSpec } from '../../src/lib/core/tasks';

type Meta = { a: number; b: number; p: number; split: string; corrupted: boolean; true_answer: string };
const meta = (r: { meta?: unknown }) => r.meta as Meta;

describe('modular tasks', () => {
	it('all p² pairs a-major, a seeded split of round(train·p²) and round(ξ·n_train) corrupted labels, never the true one', () => {
		const task = parseTaskSpec('add:p97:train=0.3:xi=0.2');
		const rows = generatePrompts(task, { n: 97 * 97, seed: 4 });
		expect(rows).toHaveLength(9409);
		rows.forEach((r, i) => {
			const m = meta(r);
			expect([m.a, m.b]).toEqual([Math.floor(i / 97), i % 97]);
			expect(r.prompt).toBe(`${m.a} + ${m.b} =`);
			expect(m.true_answer).toBe(` ${(m.a + m.b) % 97}`);
			expect(r.answer === m.true_answer).toBe(!m.corrupted);
		});
		const train = rows.filter((r) => meta(r).split === 'train');
		expect(train).toHaveLength(Math.round(0.3 * 9409));
		expect(rows.filter((r) => meta(r).corrupted)).toHaveLength(Math.round(0.2 * train.length));
		expect(rows.every((r) => !meta(r).corrupted || meta(r).split === 'train')).toBe(true);
		// the same seed, the same data; another seed, another split
		expect(generatePrompts(task, { n: 9409, seed: 4 })).toEqual(rows);
		expect(generatePrompts(task, { n: 9409, seed: 5 }).map((r) => meta(r).split)).not.toEqual(rows.map((r) => meta(r).split));
	});

	it('the split does not depend on ξ, and a split= set holds only its rows, a-major', () => {
		const clean = modularData('add', { p: 11, train: 0.5, xi: 0, split: 'all' }, 1);
		const noisy = modularData('add', { p: 11, train: 0.5, xi: 0.3, split: 'all' }, 1);
		expect(noisy.train).toEqual(clean.train);
		const test = generatePrompts(parseTaskSpec('mul:p11:split=test'), { n: distinctProblems(parseTaskSpec('mul:p11:split=test')), seed: 1 });
		expect(test.every((r) => meta(r).split === 'test')).toBe(true);
		expect(test.length).toBe(121 - Math.round(0.5 * 121));
		const some = generatePrompts(parseTaskSpec('sub:p11'), { n: 10, seed: 2 });
		const idx = some.map((r) => meta(r).a * 11 + meta(r).b);
		expect(idx).toEqual([...idx].sort((x, y) => x - y));
		expect(some.every((r) => r.answer === ` ${modularValue('sub', meta(r).a, meta(r).b, 11)}`)).toBe(true);
	});

	it('specs round-trip; bad ones name what is valid', () => {
		for (const spec of ['add:p97', 'sub:p13:train=0.25:xi=0.1', 'mul:p7:split=train']) expect(formatTaskSpec(parseTaskSpec(spec))).toBe(spec);
		expect(() => parseTaskSpec('div:p97')).toThrow(/modular tasks take add, sub, mul/);
		expect(() => parseTaskSpec('add:p1')).toThrow(/from 2 to 1000/);
		expect(() => parseTaskSpec('add:p97:xi=1')).toThrow(/\[0, 1\)/);
		expect(() => parseTaskSpec('add:p97:pad')).toThrow(/valid: train=<fraction>, xi=<fraction>, split=all\|train\|test/);
		expect(() => generatePrompts(parseTaskSpec('add:p5'), { n: 26, seed: 0 })).toThrow(/has 25 pairs, fewer than the 26/);
	});
});
