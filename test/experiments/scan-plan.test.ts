// Planning a scan (scanPlan.ts): rows grouped by the typed shape of their inputs, lowest restart block
// first, components sent to the highest restart block at or below their first layer, rows a
// component cannot act on left unchanged; batch sizes from bytes per row and the budget (batches.ts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { batchSize, forEachBatch } from '../../src/lib/core/experiments/batches';
import { rowBytes } from '../../src/lib/core/experiments/cost';
import { promptSetOf } from '../../src/lib/core/experiments/prompts';
import { planScan, restartBlocks, type PlannedComponent } from '../../src/lib/core/experiments/scanPlan';
import type { Spec } from '../../src/lib/core/model/spec';
import { ROOT } from '../engine/fixtures';

const spec = (JSON.parse(readFileSync(join(ROOT, 'test/fixtures/tiny-gpt2.json'), 'utf8')) as { spec: Spec }).spec;
// prompts 0 and 2: 4 + 2 tokens; prompt 1: 5 + 3 tokens
const set = promptSetOf([
	{ index: 0, prompt: [1, 2, 3, 4], answer: [5, 6] },
	{ index: 1, prompt: [1, 2, 3, 4, 5], answer: [6, 7, 8] },
	{ index: 2, prompt: [1, 2, 3, 4], answer: [7, 8] }
]);

describe('planScan', () => {
	it('groups rows by restart block, length and inputs; leaves rows a component cannot act on', () => {
		const comps: PlannedComponent[] = [
			{ firstLayer: 1, heads: 'head', mlps: 'none', actsFrom: 0 },
			{ firstLayer: 0, heads: 'head_pos', mlps: 'none', actsFrom: 6 }, // a head at position 5: only the 7-token rows
			{ firstLayer: 0, heads: 'none', mlps: 'layer', actsFrom: 0 },
			{ firstLayer: 0, heads: 'none', mlps: 'none', actsFrom: Infinity } // an empty set
		];
		const plan = planScan(spec, set, comps, [0, 1], true);
		expect(plan.groups.map((g) => [g.shape, g.rows])).toEqual([
			[{ start: 0, T: 7, P: 3, heads: 'head_pos', mlps: 'none', gather: true }, [{ c: 1, n: 1 }]],
			[{ start: 0, T: 5, P: 2, heads: 'none', mlps: 'layer', gather: true }, [{ c: 2, n: 0 }, { c: 2, n: 2 }]],
			[{ start: 0, T: 7, P: 3, heads: 'none', mlps: 'layer', gather: true }, [{ c: 2, n: 1 }]],
			[{ start: 1, T: 5, P: 2, heads: 'head', mlps: 'none', gather: true }, [{ c: 0, n: 0 }, { c: 0, n: 2 }]],
			[{ start: 1, T: 7, P: 3, heads: 'head', mlps: 'none', gather: true }, [{ c: 0, n: 1 }]]
		]);
		expect(plan.unchanged).toEqual([{ c: 1, n: 0 }, { c: 1, n: 2 }, { c: 3, n: 0 }, { c: 3, n: 2 }, { c: 3, n: 1 }]);
		expect(plan.total).toBe(7);
		expect(plan.groups[3].rowBytes).toBe(rowBytes(spec, { T: 5, P: 2, heads: 'head', mlps: 'none', resid: true }));
	});

	it('restart blocks: none, an explicit list (0 always among them), refusing blocks outside the model', () => {
		expect(restartBlocks(spec, set, [1, 1], true, { startLayers: 'none' })).toEqual([0]);
		expect(restartBlocks(spec, set, [1], true, { startLayers: [1] })).toEqual([0, 1]);
		expect(() => restartBlocks(spec, set, [1], true, { startLayers: [spec.n_layers] })).toThrow(RangeError);
	});
});

describe('forEachBatch', () => {
	it('runs rows in order, as many per batch as the budget holds or batchRows fixes', async () => {
		expect(batchSize(100, { memoryBudget: 350 })).toBe(3);
		expect(batchSize(1000, { memoryBudget: 350 })).toBe(1);
		expect(batchSize(100, { memoryBudget: 350, batchRows: 2 })).toBe(2);
		const seen: [number[], number][] = [];
		await forEachBatch([1, 2, 3, 4, 5, 6, 7], 100, { memoryBudget: 350 }, async (b, at) => void seen.push([b, at]));
		expect(seen).toEqual([[[1, 2, 3], 0], [[4, 5, 6], 3], [[7], 6]]);
		const stop = new AbortController();
		stop.abort();
		await expect(forEachBatch([1], 100, { signal: stop.signal }, async () => undefined)).rejects.toMatchObject({ name: 'AbortError' });
	});
});
