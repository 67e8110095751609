// scanDifference: b − a per head, MLP and clean metric, in layer-head order whatever the rank order;
// scans of different heads are refused.
import { describe, expect, it } from 'vitest';
import { CompareError, differenceCsv, scanDifference } from '../../src/lib/core/export/compare';

const side = (scores: number[], clean: Record<string, number>) => ({
	clean,
	heads: scores.map((score, i) => ({ layer: i >> 1, head: i & 1, score, rank: 0 })).sort((x, y) => y.score - x.score).map((e, r) => ({ ...e, rank: r + 1 })),
	mlps: [{ layer: 0, score: scores[0] * 2, rank: 1 }]
});

describe('scanDifference', () => {
	it('subtracts per head, MLP and clean metric', () => {
		const d = scanDifference(side([1, 2, 3, 4], { accuracy: 0.5, logprob: -1 }), side([4, 2, 0, 1], { accuracy: 0.75 }));
		expect(d.heads.map((h) => [h.layer, h.head, h.difference])).toEqual([[0, 0, 3], [0, 1, 0], [1, 0, -3], [1, 1, -3]]);
		expect(d.heads[0]).toMatchObject({ a: 1, b: 4, rank_a: 4, rank_b: 1 });
		expect(d.mlps).toEqual([{ layer: 0, a: 2, b: 8, difference: 6 }]);
		expect(d.clean).toEqual({ accuracy: 0.25 });
		expect(differenceCsv(d).split('\n')[0]).toBe('layer,head,score_a,score_b,difference,rank_a,rank_b');
	});

	it('refuses scans of different heads', () => {
		expect(() => scanDifference(side([1, 2, 3, 4], {}), side([1, 2], {}))).toThrow(CompareError);
	});
});
