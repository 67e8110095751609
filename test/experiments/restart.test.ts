// The engine's restart mode that scans rely on: run from block l given that block's cached
// hook_resid_pre equals the full run (with and without interventions at or above l, gathered or not),
// against the reference's intervention batches; hooks below the restart block are refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Interventions } from '../../src/lib/core/runtime/engine';
import { expectClose, loadScanFixture, type Loaded } from './helpers';

describe.each(['tiny-gpt2', 'tiny-llama-gqa', 'tiny-neox-parallel', 'tl-rms-silu-rotary'])('%s', (name) => {
	let f: Loaded;
	beforeAll(async () => (f = await loadScanFixture(name)));
	afterAll(() => f?.engine.dispose());

	it('restarting at each block from the cached residual reproduces the reference intervention batches', async () => {
		const { n_layers: L, n_heads: H } = f.model.spec;
		for (const method of ['zero', 'mean', 'patch', 'path']) {
			const tokens = f.fx.int(`iv.${method}.tokens`);
			const interventions: Interventions = {};
			for (const key of f.fx.manifest.interventions[method].inputs) interventions[key as keyof Interventions] = f.fx.float(`iv.${method}.${key}`);
			const want = f.fx.float(`iv.${method}.logits`);
			for (let l = 1; l < L; l++) {
				// the residual at block l of the same intervened run (rows that intervene below l change it)
				const { cache } = await f.engine.run(tokens, { interventions, hooks: [`blocks.${l}.hook_resid_pre`] });
				const resid = cache.get(`blocks.${l}.hook_resid_pre`)!;
				const { logits } = await f.engine.run(tokens, { interventions, start: { layer: l, resid } });
				expectClose(`${name} iv.${method} from block ${l}`, logits, want, f.fx.manifest.tolerance);
			}
		}
		expect(H).toBeGreaterThan(0);
	});

	it('restarts with gathered logits and refuses hooks of skipped blocks', async () => {
		const tokens = f.fx.manifest.tokens.slice(0, 2);
		const { logits, cache } = await f.engine.run(tokens, { hooks: ['blocks.1.hook_resid_pre'] });
		const resid = cache.get('blocks.1.hook_resid_pre')!;
		const T = tokens[0].length;
		const gathered = await f.engine.run(tokens, { start: { layer: 1, resid }, positions: [[T - 1], [0]] });
		const V = logits.shape[2];
		const want = new Float32Array(2 * V);
		want.set(logits.data.subarray((T - 1) * V, T * V), 0);
		want.set(logits.data.subarray(T * V, (T + 1) * V), V);
		expectClose(`${name} restart gathered`, gathered.logits, { data: want, shape: [2, 1, V] }, 1e-5);
		await expect(f.engine.run(tokens, { start: { layer: 1, resid }, hooks: ['blocks.0.attn.hook_z'] })).rejects.toThrow(/before startLayer 1/);
		await expect(f.engine.run(tokens, { start: { layer: 1, resid }, hooks: ['hook_embed'] })).rejects.toThrow(/before startLayer 1/);
		await expect(f.engine.run(tokens, { start: { layer: 9, resid } })).rejects.toThrow(/start layer 9/);
		await expect(f.engine.run(tokens, { start: { layer: 1, resid: { data: resid.data, shape: [1, ...resid.shape.slice(1)] } } })).rejects.toThrow(/start.resid/);
	});
});
