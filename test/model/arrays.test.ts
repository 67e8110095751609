// maxOf/minOf: the same answers as Math.max/Math.min on small inputs, and no stack overflow on arrays
// far past the ~125k arguments a spread into Math.max can take.
import { describe, expect, it } from 'vitest';
import { maxOf, minOf } from '../../src/lib/core/model/arrays';

describe('maxOf / minOf', () => {
	it('agree with Math.max / Math.min (initial included) on small arrays', () => {
		const xs = [3, -7.5, 12, 0, 12, -1];
		expect(maxOf(xs)).toBe(12);
		expect(minOf(xs)).toBe(-7.5);
		expect(maxOf(xs, 20)).toBe(20);
		expect(minOf(xs, -20)).toBe(-20);
		expect(maxOf(new Set([1, 5, 2]))).toBe(5); // any iterable
		expect(minOf(Float32Array.of(4, 2.5, 9))).toBe(2.5);
	});

	it('an empty array gives the initial value (-Infinity / Infinity by default), as Math.max() does', () => {
		expect(maxOf([])).toBe(-Infinity);
		expect(minOf([])).toBe(Infinity);
		expect(maxOf([], 0)).toBe(0);
		expect(minOf([], 7)).toBe(7);
	});

	it('NaN anywhere gives NaN, as Math.max does; ±Infinity are ordinary values', () => {
		expect(maxOf([1, NaN, 3])).toBeNaN();
		expect(minOf([NaN, 1])).toBeNaN();
		expect(maxOf([1, 2], NaN)).toBeNaN();
		expect(maxOf([-Infinity, -3])).toBe(-3);
		expect(minOf([Infinity, 5, -Infinity])).toBe(-Infinity);
	});

	it('runs over a 151,936-wide logits row and 1,000,000 values without overflowing the stack', () => {
		const V = 151_936; // Qwen2's vocabulary
		const row = new Float32Array(V).map((_, i) => Math.sin(i) * 10);
		row[151_000] = 42.5;
		row[17] = -42.25;
		expect(maxOf(row)).toBe(42.5);
		expect(minOf(row)).toBe(-42.25);
		const lengths = Array.from({ length: 1_000_000 }, (_, i) => (i * 7919) % 1000);
		lengths[999_999] = 1001;
		expect(maxOf(lengths)).toBe(1001);
		expect(minOf(lengths)).toBe(0);
	});
});
