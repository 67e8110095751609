// Every scan against the reference (models/train/experiments.py via make_fixtures.py): zero, mean and
// resample ablation of every head and MLP layer, activation patching and path patching, on every
// fixture with scans (tiny models of every family now; shipped models when their fixtures appear).
// Tolerance: the manifest's (1e-4) on metric differences. Patching and path-patching scores are ratios,
// so the same absolute error is allowed on their numerators: the score tolerance is tol divided by the
// denominator (|m_clean − m_corrupt|, or per prompt |logit_clean|), which for these random tiny models
// can be 0.03. Resample uses the fixture's explicit permutation.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ablationScan } from '../../src/lib/core/experiments/ablation';
import { patchScan, pathPatchScan } from '../../src/lib/core/experiments/patching';
import { ScanContext } from '../../src/lib/core/experiments/scan';
import { expectClose, loadScanFixture, scanFixtureNames, type Loaded } from './helpers';

const names = scanFixtureNames();

it('finds the reference scan fixtures', () => {
	expect(names.length).toBeGreaterThanOrEqual(13);
});

describe.each(names)('%s', (name) => {
	let f: Loaded;
	let ctx: ScanContext;
	beforeAll(async () => {
		f = await loadScanFixture(name);
		ctx = new ScanContext(f.engine, f.set);
	});
	afterAll(() => f?.engine.dispose());

	it.each(['zero', 'mean', 'resample'] as const)('%s ablation of every head and MLP layer', async (method) => {
		const tol = f.manifest.tolerance;
		const res = await ablationScan(ctx, { method, perm: f.manifest.resample_perm });
		for (const [metric, want] of Object.entries(f.manifest.scans[method].clean!))
			expectClose(`${name} ${method} clean ${metric}`, [res.clean[metric]], [want], tol);
		let compared = 0;
		for (const [metric, got] of Object.entries(res.heads!.metrics)) {
			expectClose(`${name} ${method} heads ${metric}`, got!, f.fx.float(`scan.${method}.heads.${metric}`), tol);
			compared++;
		}
		expect(compared).toBe(4);
		if (f.has(`scan.${method}.mlps.logprob`)) {
			for (const [metric, got] of Object.entries(res.mlps!.metrics))
				expectClose(`${name} ${method} mlps ${metric}`, got!, f.fx.float(`scan.${method}.mlps.${metric}`), tol);
		} else expect(method === 'resample' || f.model.spec.attn_only, 'the reference scans MLPs for zero and mean').toBe(true);
		expect(!!res.mlps).toBe(!f.model.spec.attn_only);
	});

	it('activation patching (denoising) of every head', async () => {
		const tol = f.manifest.tolerance;
		const res = await patchScan(ctx);
		for (const run of ['clean', 'corrupt'] as const)
			for (const [metric, want] of Object.entries(f.manifest.scans.patch[run]!))
				expectClose(`${name} patch ${run} ${metric}`, [res[run][metric]], [want], tol);
		for (const metric of ['logprob', 'logit_diff'] as const) {
			const denominator = Math.abs(f.manifest.scans.patch.clean![metric] - f.manifest.scans.patch.corrupt![metric]);
			expectClose(`${name} patch heads ${metric}`, res.heads[metric]!, f.fx.float(`scan.patch.heads.${metric}`), tol / Math.min(1, denominator));
		}
	});

	it('path patching of every head to the logits', async () => {
		const res = await pathPatchScan(ctx);
		const base = (await ctx.base('clean', {})).scores.row('answer_logit');
		const amplification = Math.max(1, base.reduce((a, x) => a + 1 / Math.abs(x), 0) / base.length);
		expectClose(`${name} path heads`, res.heads, f.fx.float('scan.path.heads.answer_logit_rel'), f.manifest.tolerance * amplification);
		for (const k of res.keyHeads) expect(k.change).toBeLessThan(-0.05);
	});
});
