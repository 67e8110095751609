import { describe, expect, it } from 'vitest';
import { headEntries, headReportJson, headTableCsv, mlpEntries } from '../../src/lib/core/export/headTable';
import { makeProvenance } from '../../src/lib/core/export/provenance';
import { tensor } from '../../src/lib/core/model/tensor';

// L = 2, H = 2 toy scores (values exactly representable in float32)
const scores = {
	score: tensor([0.5, -0.25, 2, 0], [2, 2]),
	accuracy_drop: tensor([0.25, 0, 1, -0.5], [2, 2]),
	logprob_drop: tensor([0.5, -0.25, 2, 0], [2, 2]),
	position_accuracy_drop: tensor([0, 0.5, 0, 0, 1, 1, 0, -1], [2, 2, 2])
};

describe('head table', () => {
	it('ranks entries and writes the CSV with per-position columns', () => {
		const entries = headEntries(scores);
		expect(entries.map((e) => [e.layer, e.head, e.rank])).toEqual([[1, 0, 1], [0, 0, 2], [1, 1, 3], [0, 1, 4]]);
		expect(headTableCsv(entries)).toBe(
			'layer,head,score,rank,accuracy_drop,logprob_drop,accuracy_drop_pos0,accuracy_drop_pos1\n' +
				'1,0,2,1,1,2,1,1\n' +
				'0,0,0.5,2,0.25,0.5,0,0.5\n' +
				'1,1,0,3,-0.5,0,0,-1\n' +
				'0,1,-0.25,4,0,-0.25,0,0\n'
		);
	});

	it('leaves drop columns empty for patching scores and ranks path patching low-first', () => {
		const entries = headEntries({ score: tensor([0.1, -0.3, -0.05, 0.2], [2, 2]) }, 'ascending');
		expect(entries.map((e) => `${e.layer}.${e.head}`)).toEqual(['0.1', '1.0', '0.0', '1.1']);
		expect(headTableCsv(entries).split('\n')[1]).toMatch(/^0,1,-0\.3\d*,1,,$/);
	});

	it('checks shapes', () => {
		expect(() => headEntries({ score: tensor([1, 2], [2]) })).toThrow(/score must be \[L, H\]/);
		expect(() => headEntries({ score: tensor([1, 2], [1, 2]), accuracy_drop: tensor([1, 2], [2, 1]) })).toThrow(/accuracy_drop: shape \[2,1\]/);
	});

	it('writes the JSON report with provenance, clean metrics, heads and MLPs (NaN as null)', () => {
		const provenance = makeProvenance({
			arithlens_version: '0.1.0', model: { id: 'models/add-3d', weights_sha256: 'a'.repeat(64) }, task: 'add:3:eos',
			method: 'mean', metric: 'logprob', n_prompts: 4, seed: 0, backend: 'wasm', timestamp: '2025-01-02T03:04:05.000Z'
		});
		const heads = headEntries({ score: tensor([1, Number.NaN], [1, 2]) });
		const mlps = mlpEntries({ score: tensor([0.5, 1.5], [2]), logprob_drop: tensor([0.5, 1.5], [2]) });
		const json = JSON.parse(headReportJson({ provenance, clean: { logprob: -1.5, accuracy: 0.75 }, heads, mlps }));
		expect(Object.keys(json)).toEqual(['provenance', 'clean', 'heads', 'mlps']);
		expect(json.provenance).toEqual({
			arithlens_version: '0.1.0', model: { id: 'models/add-3d', weights_sha256: 'a'.repeat(64) }, task: 'add:3:eos',
			method: 'mean', metric: 'logprob', n_prompts: 4, seed: 0, backend: 'wasm', timestamp: '2025-01-02T03:04:05.000Z'
		});
		expect(json.heads).toEqual([{ layer: 0, head: 0, score: 1, rank: 1 }, { layer: 0, head: 1, score: null, rank: 2 }]);
		expect(json.mlps).toEqual([{ layer: 1, score: 1.5, rank: 1, logprob_drop: 1.5 }, { layer: 0, score: 0.5, rank: 2, logprob_drop: 0.5 }]);
	});
});
