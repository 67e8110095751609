import { describe, expect, it } from 'vitest';
import { columnSubtasks, createRng, generatePrompts, makeExample, parseTaskSpec } from '../../src/lib/core/tasks';

describe('createRng', () => {
	it('is reproducible, stays in range and is roughly uniform', () => {
		const draw = (seed: number) => { const r = createRng(seed); return Array.from({ length: 5 }, () => r.int(0, 999)); };
		expect(draw(42)).toEqual(draw(42));
		expect(draw(42)).not.toEqual(draw(43));
		const r = createRng(1);
		const counts = new Array(10).fill(0);
		for (let i = 0; i < 20_000; i++) {
			const v = r.int(3, 12);
			expect(v >= 3 && v <= 12 && Number.isInteger(v)).toBe(true);
			counts[v - 3]++;
		}
		for (const c of counts) expect(Math.abs(c - 2000)).toBeLessThan(200); // ~4.7 sigma
		const big = createRng(5);
		const high = Array.from({ length: 2000 }, () => big.int(0, 10 ** 15 - 1)).filter((v) => v >= 5 * 10 ** 14).length;
		expect(Math.abs(high - 1000)).toBeLessThan(150);
		expect(createRng(9).shuffle([...Array(50).keys()]).sort((x, y) => x - y)).toEqual([...Array(50).keys()]);
		expect(() => createRng(1.5)).toThrow(/seed must be an integer/);
	});
});

describe('generatePrompts', () => {
	it('is seeded: same seed, same set; another seed, another set; the counterfactual kind does not move the problems', () => {
		const task = parseTaskSpec('add-3d');
		const set = generatePrompts(task, { n: 20, seed: 7 });
		expect(generatePrompts(task, { n: 20, seed: 7 })).toEqual(set);
		expect(generatePrompts(task, { n: 20, seed: 8 })).not.toEqual(set);
		const plain = generatePrompts(task, { n: 20, seed: 7, counterfactual: 'none' });
		expect(plain.map((r) => r.prompt)).toEqual(set.map((r) => r.prompt));
		expect(plain.every((r) => !('counterfactual' in r))).toBe(true);
	});

	it('writes records in the prompt-file shape with problem metadata', () => {
		const task = parseTaskSpec('mul-2d');
		for (const r of generatePrompts(task, { n: 50, seed: 1 })) {
			const { a, b } = r.meta as { a: number; b: number };
			expect(r.prompt).toBe(makeExample(task, a, b).prompt);
			expect(r.answer).toBe(makeExample(task, a, b).answer);
			expect(r.meta).toEqual({ op: 'mul', a, b, subtasks: columnSubtasks(a, b, 4).map((d) => d.class) });
			expect(r.counterfactual!.prompt.length).toBe(r.prompt.length);
			expect(r.counterfactual!.answer).not.toBe(r.answer);
		}
		const nulls = generatePrompts(parseTaskSpec('add:2'), { n: 5, seed: 1, counterfactual: 'operator-null' });
		for (const r of nulls) expect(r.counterfactual).toEqual({ prompt: r.prompt.replace('+', ' ') });
	});

	it('draws distinct problems inside each operator\'s domain', () => {
		const check = (spec: string, n: number, ok: (a: number, b: number) => boolean) => {
			const recs = generatePrompts(parseTaskSpec(spec), { n, seed: 3 });
			const pairs = recs.map((r) => r.meta as { a: number; b: number });
			expect(new Set(pairs.map((p) => `${p.a},${p.b}`)).size).toBe(n);
			for (const p of pairs) expect(ok(p.a, p.b), `${spec} ${p.a},${p.b}`).toBe(true);
		};
		check('sub:2', 300, (a, b) => a >= b && a <= 99);
		check('div:3x1', 300, (a, b) => b >= 1 && b <= 9 && a <= 999);
		check('mod:2', 300, (a, b) => b >= 1 && b <= 99);
		check('add:3:exact', 300, (a, b) => a >= 100 && b >= 100 && a <= 999 && b <= 999);
		check('mul:1', 100, (a, b) => a <= 9 && b <= 9);
		expect(() => generatePrompts(parseTaskSpec('mul:1'), { n: 101, seed: 0 })).toThrow(/mul:1 has 100 distinct problems, fewer than the 101 asked for/);
		expect(generatePrompts(parseTaskSpec('mul:1'), { n: 101, seed: 0, unique: false })).toHaveLength(101);
		expect(() => generatePrompts(parseTaskSpec('add:1'), { n: 0, seed: 0 })).toThrow(/n must be a positive integer/);
	});
});
