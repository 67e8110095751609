// Metrics against the reference: per-prompt values and every scan score of experiments.py, recomputed
// from the logits its scans produced (test/fixtures/metrics/, made by make_metric_fixtures.py) and
// compared with the parity fixtures' scan.* tensors and manifest clean metrics.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
	ablationScore, gatheredPromptMetrics, isKeyHead, patchingScore, pathPatchingChange, positionAccuracy,
	promptMetrics, scoredPositions, scoredPromptMetrics, scoreTargets, type MetricName, type PromptMetrics
} from '../../src/lib/core/experiments/metrics';
import { parseSafetensors, toFloat32 } from '../../src/lib/core/model/safetensors';
import { tensor, type Tensor } from '../../src/lib/core/model/tensor';

const avg = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
/** Per-prompt metrics averaged over the prompts, as the scans' clean means are. */
function meanMetrics(m: PromptMetrics): Record<string, number> {
	const out: Record<string, number> = { logprob: avg(m.logprob), accuracy: avg(m.accuracy), answer_logit: avg(m.answer_logit) };
	if (m.logit_diff) out.logit_diff = avg(m.logit_diff);
	return out;
}

const FIXTURES = new URL('../fixtures/', import.meta.url);
const TOL = 1e-5;

function readTensors(path: URL): (name: string) => Tensor {
	const file = path.pathname.split('/').pop()!;
	const all = parseSafetensors(file, new Uint8Array(readFileSync(path)));
	return (name) => {
		const t = all.get(name);
		if (!t) throw new Error(`${file}: no tensor ${name}`);
		return { data: toFloat32(file, name, t), shape: t.shape };
	};
}

/** Row r of a stacked [R, ...] tensor. */
const row = (t: Tensor, r: number): Tensor => {
	const size = t.data.length / t.shape[0];
	return { data: t.data.subarray(r * size, (r + 1) * size), shape: t.shape.slice(1) };
};

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
	expect(a.length).toBe(b.length);
	let m = 0;
	for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) || (a[i] === b[i] ? 0 : Infinity));
	return m;
};

interface Parity { name: string; model: string; prompts: { prompt: string; answer: string; counterfactual: { prompt: string; answer: string } }[]; tokens: number[][]; answer_tokens: number[][]; scans: Record<string, { clean?: Record<string, number>; corrupt?: Record<string, number> }> }
const parityNames = readdirSync(FIXTURES).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5))
	.filter((n) => 'scans' in JSON.parse(readFileSync(new URL(`${n}.json`, FIXTURES), 'utf8')));
const parity = (name: string) => JSON.parse(readFileSync(new URL(`${name}.json`, FIXTURES), 'utf8')) as Parity;

describe('clean metrics from the parity fixtures\' captured logits', () => {
	it.each(parityNames)('%s: answer_logit and logit_diff at the last prompt position match the manifest', (name) => {
		const m = parity(name);
		const tok = JSON.parse(readFileSync(new URL(`../../${m.model}/tokenizer.json`, FIXTURES), 'utf8')).model.vocab as Record<string, number>;
		const captures = readTensors(new URL(`${name}.safetensors`, FIXTURES));
		const logits = m.prompts.map((_, i) => captures(`capture.${i}.logits`)); // [T_prompt, V]: the prompt alone
		const [T, V] = logits[0].shape;
		const stacked = tensor(Float32Array.from(logits.flatMap((l) => Array.from(l.data))), [logits.length, T, V]);
		// prompt-only logits cover the first answer token, which is all these two metrics read
		const got = meanMetrics(promptMetrics(stacked, {
			nPrompt: m.tokens.map((t) => t.length), answers: m.answer_tokens.map((a) => a.slice(0, 1)),
			cfFirst: m.prompts.map((p) => tok[p.counterfactual.answer[0]])
		}));
		for (const scan of ['zero', 'mean', 'resample']) {
			expect(Math.abs(got.answer_logit - m.scans[scan].clean!.answer_logit), `${scan} answer_logit`).toBeLessThanOrEqual(TOL);
			expect(Math.abs(got.logit_diff! - m.scans[scan].clean!.logit_diff), `${scan} logit_diff`).toBeLessThanOrEqual(TOL);
		}
		expect(Math.abs(got.logit_diff! - m.scans.patch.clean!.logit_diff)).toBeLessThanOrEqual(TOL);
	});
});

const metricNames = readdirSync(new URL('metrics/', FIXTURES)).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5));

describe.each(metricNames)('reference scans of %s', (name) => {
	const fx = JSON.parse(readFileSync(new URL(`metrics/${name}.json`, FIXTURES), 'utf8')) as {
		rows: [number, number][]; n_prompt: number[]; answers: number[][]; cf_first: number[];
		metrics: Record<'clean' | 'corrupt', Record<MetricName, number[]> & { position_correct: boolean[][] }>;
	};
	const logits = readTensors(new URL(`metrics/${name}.safetensors`, FIXTURES));
	const scans = readTensors(new URL(`${name}.safetensors`, FIXTURES));
	const manifest = parity(name);
	const targets = { nPrompt: fx.n_prompt, answers: fx.answers, cfFirst: fx.cf_first };
	const score = (t: Tensor) => promptMetrics(t, targets);
	const keys = ['logprob', 'accuracy', 'answer_logit', 'logit_diff'] as const;

	it('per-prompt metrics of the clean and corrupted runs', () => {
		for (const run of ['clean', 'corrupt'] as const) {
			const got = score(logits(`patch.${run}`));
			for (const k of keys) expect(maxDiff(got[k]!, fx.metrics[run][k]), `${run} ${k}`).toBeLessThanOrEqual(TOL);
			expect(got.position_correct).toEqual(fx.metrics[run].position_correct.map((r) => r.map(Number)));
		}
		const clean = meanMetrics(score(logits('zero.clean')));
		for (const k of keys) expect(Math.abs(clean[k]! - manifest.scans.zero.clean![k]), k).toBeLessThanOrEqual(TOL);
		const corrupt = meanMetrics(score(logits('patch.corrupt')));
		for (const k of ['logprob', 'logit_diff'] as const) expect(Math.abs(corrupt[k]! - manifest.scans.patch.corrupt![k])).toBeLessThanOrEqual(TOL);
	});

	it('ablation scores of every head and MLP layer (zero scan)', () => {
		const clean = score(logits('zero.clean'));
		const heads = logits('zero.heads');
		for (const k of keys) {
			const want = scans(`scan.zero.heads.${k}`).data;
			const got = fx.rows.map((_, r) => ablationScore(clean[k]!, score(row(heads, r))[k]!));
			expect(maxDiff(got, want), k).toBeLessThanOrEqual(TOL);
			const mlps = logits('zero.mlps');
			const gotMlp = Array.from({ length: mlps.shape[0] }, (_, l) => ablationScore(clean[k]!, score(row(mlps, l))[k]!));
			expect(maxDiff(gotMlp, scans(`scan.zero.mlps.${k}`).data), `mlp ${k}`).toBeLessThanOrEqual(TOL);
		}
	});

	it('activation patching scores', () => {
		const clean = score(logits('patch.clean'));
		const corrupt = score(logits('patch.corrupt'));
		const heads = logits('patch.heads');
		for (const k of ['logprob', 'logit_diff'] as const) {
			const got = fx.rows.map((_, r) => patchingScore(score(row(heads, r))[k]!, corrupt[k]!, clean[k]!));
			expect(maxDiff(got, scans(`scan.patch.heads.${k}`).data), k).toBeLessThanOrEqual(TOL);
		}
	});

	it('path-patching relative changes', () => {
		const clean = score(logits('patch.clean'));
		const heads = logits('path.heads');
		const got = fx.rows.map((_, r) => pathPatchingChange(score(row(heads, r)).answer_logit, clean.answer_logit));
		expect(maxDiff(got, scans('scan.path.heads.answer_logit_rel').data)).toBeLessThanOrEqual(TOL);
	});

	it('gathered logits give the same metrics as full logits', () => {
		const full = logits('patch.clean');
		const [B, T, V] = full.shape;
		const positions = scoredPositions(targets);
		const P = positions[0].length;
		const gathered = new Float32Array(B * P * V);
		positions.forEach((ps, b) => ps.forEach((t, p) => gathered.set(full.data.subarray((b * T + t) * V, (b * T + t + 1) * V), (b * P + p) * V)));
		expect(gatheredPromptMetrics(tensor(gathered, [B, P, V]), targets)).toEqual(promptMetrics(full, targets));
	});
});

describe('metrics on hand-made logits', () => {
	// V = 4. Row 0: prompt of 2 tokens, answer [1, 2], both argmax. Row 1: prompt of 1 token, answer [3], argmax is 0.
	const logits = tensor([
		0, 0, 0, 0, /* t0 */ 0, 2, 0, 0, /* t1 predicts 1 */ 0, 0, 1, 0, /* t2 predicts 2 */ 9, 9, 9, 9,
		5, 0, 0, 1, /* t0 predicts 3 */ 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9
	], [2, 4, 4]);
	const targets = { nPrompt: [2, 1], answers: [[1, 2], [3]], cfFirst: [0, 0] };
	const m: PromptMetrics = promptMetrics(logits, targets);

	it('scores logprob, exact match, per-position correctness, answer logit and logit diff', () => {
		const lse = (xs: number[]) => Math.log(xs.reduce((a, x) => a + Math.exp(x), 0));
		expect(m.logprob[0]).toBeCloseTo(2 - lse([0, 2, 0, 0]) + 1 - lse([0, 0, 1, 0]), 12);
		expect(m.logprob[1]).toBeCloseTo(1 - lse([5, 0, 0, 1]), 12);
		expect(m.accuracy).toEqual([1, 0]);
		expect(m.position_correct).toEqual([[1, 1], [0]]);
		expect(positionAccuracy(m)).toEqual([0.5, 1]);
		expect(m.answer_logit).toEqual([2, 1]);
		expect(m.logit_diff).toEqual([2, -4]);
		expect(meanMetrics(m)).toMatchObject({ accuracy: 0.5, answer_logit: 1.5, logit_diff: -1 });
		expect(scoredPositions(targets)).toEqual([[1, 2], [0, 0]]);
	});

	it('gathers rows with answers of different lengths', () => {
		const gathered = tensor([0, 2, 0, 0, 0, 0, 1, 0, 5, 0, 0, 1, 7, 7, 7, 7], [2, 2, 4]);
		expect(gatheredPromptMetrics(gathered, targets)).toEqual(m);
	});

	it('scores from a scoring run\'s outputs (log-normaliser, first argmax, target logits) equal the logits\' metrics', () => {
		// what the graph returns for the gathered slots of the previous test: row 1's second slot is padding
		expect(scoreTargets(targets, 2)).toEqual([[[1, 0], [2, 0]], [[3, 0], [3, 0]]]);
		const lse = (xs: number[]) => Math.log(xs.reduce((a, x) => a + Math.exp(x), 0));
		const scores = {
			logsumexp: tensor([lse([0, 2, 0, 0]), lse([0, 0, 1, 0]), lse([5, 0, 0, 1]), lse([7, 7, 7, 7])], [2, 2]),
			argmax: { data: Int32Array.from([1, 2, 0, 0]), shape: [2, 2] },
			logits: tensor([2, 0, 1, 0, 1, 5, 7, 7], [2, 2, 2])
		};
		const got = scoredPromptMetrics(scores, targets);
		expect(maxDiff(got.logprob, m.logprob)).toBeLessThanOrEqual(1e-6); // float32 log-normaliser
		expect({ ...got, logprob: [] }).toEqual({ ...m, logprob: [] });
		expect(() => scoredPromptMetrics(scores, { answers: targets.answers, cfFirst: [0, 0, 0] })).toThrow(/logit diff needs 2 rows/);
		expect(() => scoredPromptMetrics(scores, { answers: [[1, 2, 3], [3]] })).toThrow(/row 0 has 3 answer tokens, scores only 2 positions/);
	});

	it('rejects targets outside the logits', () => {
		expect(() => promptMetrics(logits, { nPrompt: [4, 1], answers: [[1, 2], [3]] })).toThrow(/row 0 scores positions 3..4, logits have T = 4/);
		expect(() => promptMetrics(logits, { nPrompt: [2, 1], answers: [[1, 4], [3]] })).toThrow(/answer token 4 outside vocab of 4/);
		expect(() => promptMetrics(logits, { nPrompt: [2], answers: [[1]] })).toThrow(/2 logit rows, 1 prompt lengths/);
		expect(() => gatheredPromptMetrics(tensor(new Float32Array(8), [2, 1, 4]), targets)).toThrow(/row 0 has 2 answer tokens, logits only 1 positions/);
	});

	it('combines runs into ablation, patching and path-patching scores', () => {
		expect(ablationScore([1, 2], [0, 0.5])).toBe(1.25);
		expect(patchingScore([0.5, 0.5], [0, 0], [1, 1])).toBe(0.5);
		expect(pathPatchingChange([-2, 1.5], [-1, 2])).toBe((-1 + -0.25) / 2);
		expect([isKeyHead(-0.06), isKeyHead(-0.05), isKeyHead(0.1)]).toEqual([true, false, false]);
		expect(() => ablationScore([1], [1, 2])).toThrow(/equal, non-empty/);
	});
});
