// ScanState with a stand-in worker that ranks as the worker does (core's runMethod on the tiny-gpt2
// reference fixture): the page's entries, head-map grid, MLP column, CSV and JSON are the ranked
// scan as given, the tables the CLI writes, with the reference's mean-ablation scores.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMethod, scanProvenance, type ScanMethod } from '../../src/lib/core/experiments/methods';
import { ScanContext } from '../../src/lib/core/experiments/scan';
import { headReportJson, headTableCsv } from '../../src/lib/core/export/headTable';
import { ScanState, type ScanProvenance } from '../../src/lib/state/scan.svelte';
import type { EngineClient } from '../../src/lib/workers/engineClient';
import type { ScanArgs, ScanResult } from '../../src/lib/workers/protocol';
import { expectClose, loadScanFixture, type Loaded } from '../experiments/helpers';

const PROVENANCE: ScanProvenance = {
	arithlens_version: '0.1.0',
	model: { id: 'test/fixtures/models/tiny-gpt2', weights_sha256: 'b'.repeat(64) },
	task: 'add:2',
	n_prompts: 4,
	seed: 0,
	backend: 'cpu'
};

describe('ScanState shows the ranked scan as the worker returns it', () => {
	let f: Loaded;
	let ctx: ScanContext;
	beforeAll(async () => {
		f = await loadScanFixture('tiny-gpt2');
		ctx = new ScanContext(f.engine, f.set);
	});
	afterAll(() => f?.engine.dispose());

	/** The worker's scan() without the session: runMethod's entries in the ScanResult. */
	const client = {
		async call(type: string, args: ScanArgs): Promise<ScanResult> {
			if (type !== 'scan') throw new Error(`unexpected call ${type}`);
			const r = await runMethod(ctx, { method: args.method, seed: args.seed });
			return { method: r.method, metric: r.metric, layers: ctx.spec.n_layers, heads: ctx.spec.n_heads, entries: r.heads, mlps: r.mlps, clean: r.clean, n: r.n, ms: 1 };
		}
	} as unknown as EngineClient;

	const run = async (method: ScanMethod) => {
		const scan = new ScanState(client);
		await scan.run(f.manifest.prompts, { model: 'm', backend: 'cpu', task: 'add:2', seed: 0, method }, PROVENANCE);
		expect(scan.status).toBe('done');
		return scan;
	};

	it('mean ablation: the grid and MLP column are the reference scores; CSV and JSON are the ranked tables', async () => {
		const scan = await run('mean');
		const [L, H] = [f.model.spec.n_layers, f.model.spec.n_heads];
		expect(scan.heads).toHaveLength(L);
		expectClose('grid', scan.heads.flat(), f.fx.float('scan.mean.heads.logprob').data, f.manifest.tolerance);
		expectClose('mlp column', scan.mlp!, f.fx.float('scan.mean.mlps.logprob').data, f.manifest.tolerance);
		expect(scan.entries.map((e) => e.rank)).toEqual(Array.from({ length: L * H }, (_, i) => i + 1));
		const ranked = await runMethod(ctx, { method: 'mean', seed: 0 });
		expect(scan.entries).toEqual(ranked.heads);
		expect(scan.mlpEntries).toEqual(ranked.mlps);
		expect(scan.csv()).toBe(headTableCsv(ranked.heads));
		const json = JSON.parse(scan.json());
		const want = JSON.parse(headReportJson({ provenance: scanProvenance({ ...PROVENANCE, timestamp: json.provenance.timestamp }, ranked), clean: ranked.clean, heads: ranked.heads, mlps: ranked.mlps }));
		expect(json).toEqual(want);
		expect([json.provenance.method, json.provenance.metric]).toEqual(['mean', 'logprob']);
	});

	it('path patching: most negative first, no MLP column, provenance metric answer_logit_rel', async () => {
		const scan = await run('path');
		expect(scan.mlp).toBeUndefined();
		expect(scan.mlpEntries).toEqual([]);
		const scores = scan.entries.map((e) => e.score);
		expect(scores).toEqual([...scores].sort((a, b) => a - b));
		expect(JSON.parse(scan.json()).provenance.metric).toBe('answer_logit_rel');
	});
});
