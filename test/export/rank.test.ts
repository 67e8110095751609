import { describe, expect, it } from 'vitest';
import { ranks, topK } from '../../src/lib/core/export/rank';

describe('ranks', () => {
	it('ranks high-first, low-first or by magnitude; NaN last; ties in input order', () => {
		const s = [0.1, -0.5, 0.3, Number.NaN, 0.3];
		expect(ranks(s)).toEqual([3, 4, 1, 5, 2]);
		expect(ranks(s, 'ascending')).toEqual([2, 1, 3, 5, 4]);
		expect(ranks(s, 'magnitude')).toEqual([4, 1, 2, 5, 3]);
		expect(() => ranks(s, 'up' as never)).toThrow(/valid: descending, ascending, magnitude/);
	});
});

describe('topK', () => {
	const items = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'];
	it('keeps a count or a percent, rounding the percent up', () => {
		expect(topK(items, { count: 3 })).toEqual(['a', 'b', 'c']);
		expect(topK(items, { count: 20 })).toEqual(items);
		expect(topK(items, { percent: 10 })).toEqual(['a']);
		expect(topK(items, { percent: 15 })).toEqual(['a', 'b']);
		expect(topK(items, { percent: 30 })).toEqual(['a', 'b', 'c']);
		expect(topK(items, { percent: 0 })).toEqual([]);
		expect(topK(items, { percent: 100 })).toEqual(items);
		expect(() => topK(items, { percent: 101 })).toThrow(/percent must be in \[0, 100\]/);
		expect(() => topK(items, { count: 1.5 })).toThrow(/count must be a non-negative integer/);
	});
});
