// The one scan pipeline (core/experiments/methods): runMethod on reference fixtures gives the ranked
// head and MLP tables whose scores are the reference's scans (models/train/experiments.py via
// make_fixtures.py), in the method's rank order, with the provenance metric the CLI and the page
// write; and the method table and metric vocabulary the CLI flags map to.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ablationScan } from '../../src/lib/core/experiments/ablation';
import { counterfactualNeed, METHODS, rankScan, runMethod, SCAN_METHODS, scanProvenance, scoreMetricName } from '../../src/lib/core/experiments/methods';
import { METRIC_NAMES, RANKING_METRICS, rankingMetricOfFlag } from '../../src/lib/core/experiments/metrics';
import { ScanContext } from '../../src/lib/core/experiments/scan';
import type { HeadEntry, MlpEntry } from '../../src/lib/core/export/headTable';
import { makeProvenance } from '../../src/lib/core/export/provenance';
import { expectClose, loadScanFixture, type Loaded } from './helpers';

/** Entry values back in [L, H] (or [L]) row-major order, to compare with a reference tensor. */
const byComponent = (entries: readonly (HeadEntry | MlpEntry)[], H: number, key: 'score' | 'accuracy_drop' | 'logprob_drop' = 'score') => {
	const out = new Array<number>(entries.length).fill(NaN);
	for (const e of entries) out[e.layer * H + ('head' in e ? e.head : 0)] = e[key]!;
	return out;
};

const expectRankOrder = (entries: readonly (HeadEntry | MlpEntry)[], order: 'ascending' | 'descending') => {
	expect(entries.map((e) => e.rank)).toEqual(entries.map((_, i) => i + 1));
	for (let i = 1; i < entries.length; i++) {
		const [a, b] = [entries[i - 1].score, entries[i].score];
		expect(order === 'descending' ? a >= b : a <= b, `rank ${i} (${a}) before rank ${i + 1} (${b})`).toBe(true);
	}
};

describe.each(['tiny-gpt2', 'tl-lnpre-attn-only'])('%s', (name) => {
	let f: Loaded;
	let ctx: ScanContext;
	let L: number;
	let H: number;
	beforeAll(async () => {
		f = await loadScanFixture(name);
		ctx = new ScanContext(f.engine, f.set);
		[L, H] = [f.model.spec.n_layers, f.model.spec.n_heads];
	});
	afterAll(() => f?.engine.dispose());

	it('mean ablation: heads and MLPs ranked highest logprob drop first, drops and clean metrics = the reference', async () => {
		const tol = f.manifest.tolerance;
		const r = await runMethod(ctx, { method: 'mean' });
		expect([r.method, r.metric, r.n]).toEqual(['mean', 'logprob', f.manifest.prompts.length]);
		expect(r.heads).toHaveLength(L * H);
		expectRankOrder(r.heads, 'descending');
		expectClose(`${name} mean score`, byComponent(r.heads, H), f.fx.float('scan.mean.heads.logprob').data, tol);
		expectClose(`${name} mean accuracy_drop`, byComponent(r.heads, H, 'accuracy_drop'), f.fx.float('scan.mean.heads.accuracy').data, tol);
		expectClose(`${name} mean logprob_drop`, byComponent(r.heads, H, 'logprob_drop'), f.fx.float('scan.mean.heads.logprob').data, tol);
		const positions = r.scan.method === 'mean' ? r.scan.result.heads!.position_accuracy.shape[2] : -1;
		expect(positions).toBeGreaterThan(0);
		for (const e of r.heads) expect(e.position_accuracy_drop).toHaveLength(positions);
		for (const [metric, want] of Object.entries(f.manifest.scans.mean.clean!)) expectClose(`${name} mean clean ${metric}`, [r.clean[metric]], [want], tol);
		if (f.model.spec.attn_only) expect(r.mlps).toEqual([]);
		else {
			expect(r.mlps).toHaveLength(L);
			expectRankOrder(r.mlps, 'descending');
			expectClose(`${name} mean mlps`, byComponent(r.mlps, 1), f.fx.float('scan.mean.mlps.logprob').data, tol);
		}
		// the same table as ranking the scan directly
		expect(r.heads).toEqual(rankScan({ method: 'mean', result: await ablationScan(ctx, { method: 'mean' }) }, 'logprob').heads);
	});

	it('zero ablation ranked by logit diff (--metric logit-diff) and resample with the reference permutation', async () => {
		const tol = f.manifest.tolerance;
		const zero = await runMethod(ctx, { method: 'zero', metric: 'logit_diff' });
		expect(zero.metric).toBe('logit-diff');
		expectRankOrder(zero.heads, 'descending');
		expectClose(`${name} zero logit_diff`, byComponent(zero.heads, H), f.fx.float('scan.zero.heads.logit_diff').data, tol);
		expectClose(`${name} zero logprob_drop`, byComponent(zero.heads, H, 'logprob_drop'), f.fx.float('scan.zero.heads.logprob').data, tol);
		const resample = await runMethod(ctx, { method: 'resample', perm: f.manifest.resample_perm });
		expectClose(`${name} resample`, byComponent(resample.heads, H), f.fx.float('scan.resample.heads.logprob').data, tol);
		expect(resample.scan.method === 'resample' && resample.scan.result.perm).toEqual(f.manifest.resample_perm);
	});

	it('activation patching ranks the restored fraction highest first; path patching the answer logit change most negative first', async () => {
		const tol = f.manifest.tolerance;
		const patch = await runMethod(ctx, { method: 'patch' });
		expect(patch.metric).toBe('logprob');
		expectRankOrder(patch.heads, 'descending');
		expect(patch.heads[0].accuracy_drop).toBeUndefined();
		const { clean, corrupt } = f.manifest.scans.patch;
		expectClose(`${name} patch`, byComponent(patch.heads, H), f.fx.float('scan.patch.heads.logprob').data, tol / Math.min(1, Math.abs(clean!.logprob - corrupt!.logprob)));

		const path = await runMethod(ctx, { method: 'path', metric: 'logit_diff' });
		expect([path.metric, path.mlps]).toEqual(['answer_logit_rel', []]);
		expectRankOrder(path.heads, 'ascending');
		const base = (await ctx.base('clean', {})).scores.row('answer_logit');
		const amplification = Math.max(1, base.reduce((a, x) => a + 1 / Math.abs(x), 0) / base.length);
		expectClose(`${name} path`, byComponent(path.heads, H), f.fx.float('scan.path.heads.answer_logit_rel').data, tol * amplification);
	});
});

describe('method table and metric vocabulary', () => {
	it('lists the five methods; path patching alone ranks ascending; patching needs counterfactuals', () => {
		expect(SCAN_METHODS).toEqual(['zero', 'mean', 'resample', 'patch', 'path']);
		expect(SCAN_METHODS.map((m) => METHODS[m].rankOrder)).toEqual(['descending', 'descending', 'descending', 'descending', 'ascending']);
		expect(SCAN_METHODS.map((m) => counterfactualNeed(m, 'logprob'))).toEqual([null, null, null, 'prompt', 'prompt']);
		expect(SCAN_METHODS.map((m) => counterfactualNeed(m, 'logit_diff'))).toEqual(['answer', 'answer', 'answer', 'answer', 'prompt']);
	});

	it('maps the CLI --metric names to the metric names of scans and reports', () => {
		expect(METRIC_NAMES).toEqual(['logprob', 'accuracy', 'answer_logit', 'logit_diff']);
		expect(RANKING_METRICS).toEqual(['logprob', 'accuracy', 'logit_diff']);
		expect(['logprob', 'accuracy', 'logit-diff', 'logit_diff', 'answer_logit'].map(rankingMetricOfFlag)).toEqual(['logprob', 'accuracy', 'logit_diff', undefined, undefined]);
		expect(scoreMetricName('mean', 'logit_diff')).toBe('logit-diff');
		expect(scoreMetricName('path', 'logprob')).toBe('answer_logit_rel');
	});

	it('scanProvenance is makeProvenance with the ranked scan’s method and metric', () => {
		const source = {
			arithlens_version: '0.1.0',
			model: { id: 'models/add-3d', weights_sha256: 'a'.repeat(64) },
			task: 'add:3',
			n_prompts: 6,
			seed: 1,
			backend: 'wasm',
			timestamp: '2026-01-01T00:00:00.000Z'
		};
		expect(scanProvenance(source, { method: 'path', metric: 'answer_logit_rel' })).toEqual(makeProvenance({ ...source, method: 'path', metric: 'answer_logit_rel' }));
	});
});
