// How a scan is batched must not change its scores: one row per forward vs many, restarting every row
// from the tokens vs from the cached residual at each block, gathered logits on cut rows vs full
// logits on whole rows, scoring in the graph vs in JavaScript. Also: a scan reports progress and
// stops early when cancelled.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ablationScan } from '../../src/lib/core/experiments/ablation';
import { patchScan, pathPatchScan } from '../../src/lib/core/experiments/patching';
import { ScanContext, type ScanOptions, type ScanProgress } from '../../src/lib/core/experiments/scan';
import { expectClose, loadScanFixture, type Loaded } from './helpers';

const TOL = 2e-5;

describe.each(['tiny-gpt2', 'tiny-llama-gqa', 'tl-lnpre-attn-only'])('%s', (name) => {
	let f: Loaded;
	beforeAll(async () => (f = await loadScanFixture(name)));
	afterAll(() => f?.engine.dispose());

	const L = () => f.model.spec.n_layers;
	const variants = (): [string, ScanOptions][] => [
		['one row per forward, from the tokens, full logits', { batchRows: 1, startLayers: 'none', gather: false }],
		['3 rows per forward, restarting at every block', { batchRows: 3, startLayers: Array.from({ length: L() }, (_, l) => l) }],
		['5 rows per forward, gathered logits scored in JavaScript', { batchRows: 5, score: false }],
		['the memory budget, automatic restarts', {}]
	];

	it('mean ablation scores do not depend on batching, restarts or gathering', async () => {
		const runs = [];
		for (const [label, options] of variants()) {
			const ctx = new ScanContext(f.engine, f.set);
			const res = await ablationScan(ctx, { method: 'mean', ...options });
			runs.push({ label, res, stats: { ...ctx.stats } });
		}
		const [ref, ...others] = runs;
		for (const { label, res, stats } of others) {
			for (const [metric, t] of Object.entries(res.heads!.metrics)) expectClose(`${name} ${label} heads ${metric}`, t!, ref.res.heads!.metrics[metric as 'logprob']!, TOL);
			expectClose(`${name} ${label} position accuracy`, res.heads!.position_accuracy, ref.res.heads!.position_accuracy, TOL);
			if (res.mlps) expectClose(`${name} ${label} mlps logprob`, res.mlps.metrics.logprob!, ref.res.mlps!.metrics.logprob!, TOL);
			expect(stats.rows).toBe(ref.stats.rows);
			expect(stats.forwards).toBeLessThan(ref.stats.forwards);
		}
		// restarting at every block skips blocks below each head: fewer FLOPs than from the tokens
		expect(runs[1].stats.startLayers).toEqual(Array.from({ length: L() }, (_, l) => l));
		expect(runs[1].stats.flops).toBeLessThan(runs[0].stats.flops);
	});

	it('patching and path patching scores do not depend on batching or restarts', async () => {
		const [a, b] = variants();
		const ctxA = new ScanContext(f.engine, f.set);
		const ctxB = new ScanContext(f.engine, f.set);
		expectClose(`${name} patch`, (await patchScan(ctxB, b[1])).heads.logprob!, (await patchScan(ctxA, a[1])).heads.logprob!, TOL);
		expectClose(`${name} path`, (await pathPatchScan(ctxB, b[1])).heads, (await pathPatchScan(ctxA, a[1])).heads, TOL);
		const perPosA = await patchScan(ctxA, { ...a[1], positions: 'each' });
		const perPosB = await patchScan(ctxB, { ...b[1], positions: 'each' });
		expectClose(`${name} patch per position`, perPosB.heads.logprob!, perPosA.heads.logprob!, TOL);
	});

	it('reports progress up to the total and stops soon after cancellation', async () => {
		const seen: ScanProgress[] = [];
		const full = new ScanContext(f.engine, f.set);
		await ablationScan(full, { method: 'zero', batchRows: 2, onProgress: (p) => seen.push(p) });
		const last = seen.filter((p) => p.stage === 'scan').at(-1)!;
		expect(last.done).toBe(last.total);
		expect(last.total).toBe(f.set.prompts.length * (f.model.spec.n_layers * f.model.spec.n_heads + (f.model.spec.attn_only ? 0 : f.model.spec.n_layers)));

		const controller = new AbortController();
		const ctx = new ScanContext(f.engine, f.set);
		const scan = ablationScan(ctx, {
			method: 'zero',
			batchRows: 2,
			signal: controller.signal,
			onProgress: (p) => p.stage === 'scan' && p.done >= 4 && controller.abort()
		});
		await expect(scan).rejects.toMatchObject({ name: 'AbortError' });
		expect(ctx.stats.forwards).toBeLessThan(full.stats.forwards / 2);
	});
});
