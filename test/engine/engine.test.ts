// Engine behaviour beyond numerics: backend choice and fallback, wasmPaths policy, session cache and
// disposal, serialised concurrent runs, defaults (mask without replacement = zero ablation), input checks.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { folderSource } from '../../src/cli/node-source';
import { loadModel, type LoadedModel } from '../../src/lib/core/model/index';
import type { Tensor } from '../../src/lib/core/model/tensor';
import { createEngine, type Engine } from '../../src/lib/core/runtime/engine';
import * as nodeOrt from 'onnxruntime-node';
import * as webNodeOrt from 'onnxruntime-web';
import { createNodeEngine } from '../../src/lib/core/runtime/node';
import { maxAbsDiff, readFixture, type Fixture } from './fixtures';

let fx: Fixture;
let model: LoadedModel;
let engine: Engine;
beforeAll(async () => {
	fx = readFixture('tiny-llama-gqa');
	model = await loadModel(folderSource(fx.modelDir));
	engine = await createNodeEngine(model);
});
afterAll(() => engine.dispose());

const prompt0 = () => [fx.manifest.tokens[0]];

describe('backends', () => {
	it('falls back from webgpu to wasm where there is no WebGPU, recording why, with the same numbers', async () => {
		const web = await createEngine(model, { ort: webNodeOrt, backend: 'webgpu' });
		try {
			expect(web.requestedBackend).toBe('webgpu');
			expect(web.backend).toBe('wasm');
			expect(web.fallbackReason).toMatch(/WebGPU/);
			const d = maxAbsDiff((await web.run(prompt0())).logits, (await engine.run(prompt0())).logits);
			console.log(`webgpu->wasm vs node logits: max |diff| ${d.toExponential(2)}`);
			expect(d).toBeLessThanOrEqual(1e-5);
		} finally {
			await web.dispose();
		}
	});

	it('refuses an ort module of the wrong package and wasm files from another origin', async () => {
		await expect(createEngine(model, { ort: nodeOrt, backend: 'wasm' })).rejects.toThrow(/needs onnxruntime-web/);
		await expect(createEngine(model, { ort: webNodeOrt, backend: 'node' })).rejects.toThrow(/needs onnxruntime-node/);
		await expect(
			createEngine(model, { ort: webNodeOrt, backend: 'wasm', wasmPaths: 'https://cdn.jsdelivr.net/npm/onnxruntime-web/dist/' })
		).rejects.toThrow(/not on this origin/);
	});
});

describe('sessions', () => {
	it('keeps at most maxSessions variants, rebuilds evicted ones correctly, and releases all on dispose', async () => {
		const small = await createNodeEngine(model, { maxSessions: 2 });
		const want = fx.float('capture.0.blocks.0.attn.hook_z');
		const z = async () => (await small.run(prompt0(), { hooks: ['blocks.0.attn.hook_z'] })).cache.get('blocks.0.attn.hook_z')!;
		expect(maxAbsDiff(await z(), { ...want, shape: [1, ...want.shape] })).toBeLessThanOrEqual(1e-4);
		await small.run(prompt0(), { hooks: ['blocks.1.hook_resid_post'] });
		await small.run(prompt0(), { hooks: ['blocks.0.attn.hook_pattern'] });
		expect(small.sessionCount).toBe(2);
		expect(maxAbsDiff(await z(), { ...want, shape: [1, ...want.shape] })).toBeLessThanOrEqual(1e-4);
		await small.dispose();
		expect(small.sessionCount).toBe(0);
		await expect(small.run(prompt0())).rejects.toThrow(/disposed/);
	});

	it('releases least recently used sessions before building one that would exceed maxSessionBytes', async () => {
		const tight = await createNodeEngine(model, { maxSessionBytes: 1 }); // every graph is larger: one session at a time
		const want = fx.float('capture.0.blocks.0.attn.hook_z');
		for (const hooks of [['blocks.0.attn.hook_z'], ['blocks.1.hook_resid_post'], ['blocks.0.attn.hook_z']] as const) {
			const { cache } = await tight.run(prompt0(), { hooks });
			expect(tight.sessionCount).toBe(1);
			if (hooks[0] === 'blocks.0.attn.hook_z') expect(maxAbsDiff(cache.get(hooks[0])!, { ...want, shape: [1, ...want.shape] })).toBeLessThanOrEqual(1e-4);
		}
		await tight.dispose();
	});

	it('serialises concurrent runs of different variants', async () => {
		const calls = fx.manifest.captures.map(({ prompt }) =>
			engine.run([fx.manifest.tokens[prompt]], { hooks: prompt % 2 ? ['blocks.0.attn.hook_pattern'] : [] })
		);
		const results = await Promise.all(calls);
		results.forEach((r, i) => {
			const want = fx.float(`capture.${i}.logits`);
			expect(maxAbsDiff(r.logits, { ...want, shape: [1, ...want.shape] })).toBeLessThanOrEqual(1e-4);
		});
	});
});

describe('run', () => {
	it('treats a mask without replacement as zero ablation', async () => {
		const tokens = fx.int('iv.zero.tokens');
		const { logits } = await engine.run(tokens, {
			interventions: { head_mask: fx.float('iv.zero.head_mask'), mlp_mask: fx.float('iv.zero.mlp_mask') }
		});
		const d = maxAbsDiff(logits, fx.float('iv.zero.logits'));
		console.log(`zero ablation with default replacement: max |diff| ${d.toExponential(2)}`);
		expect(d).toBeLessThanOrEqual(1e-4);
	});

	it('gives the same logits whatever hooks the graph exposes', async () => {
		const plain = (await engine.run(prompt0())).logits;
		const hooked = (await engine.run(prompt0(), { hooks: ['blocks.0.attn.hook_result', 'blocks.1.attn.hook_result'] })).logits;
		expect(maxAbsDiff(plain, hooked)).toBeLessThanOrEqual(1e-5);
	});

	it('checks its inputs against the spec', async () => {
		const { n_layers: L, n_heads: H } = model.spec;
		const mask = (shape: number[]): Tensor => ({ data: new Float32Array(shape.reduce((a, b) => a * b)), shape });
		await expect(engine.run([[1, 2, 3], [1, 2]])).rejects.toThrow(/equal length/);
		await expect(engine.run([[1, 99]])).rejects.toThrow(/outside the vocabulary/);
		await expect(engine.run([Array(model.spec.n_ctx + 1).fill(1)])).rejects.toThrow(/exceed n_ctx/);
		await expect(engine.run([[1, 2]], { hooks: ['blocks.9.hook_resid_pre'] })).rejects.toThrow(/not a hook point/);
		await expect(engine.run([[1, 2]], { interventions: { head_mask: mask([1, L, H + 1]) } })).rejects.toThrow(/head_mask: shape/);
		await expect(engine.run([[1, 2]], { interventions: { head_mask: mask([1, L, H]), head_repl: mask([1, L, H, 3, 4]) } })).rejects.toThrow(
			/head_repl: shape/
		);
		await expect(engine.run([[1, 2]], { positions: [[2]] })).rejects.toThrow(/outside \[0, 2\)/);
		await expect(engine.run([[1, 2]], { interventions: { mlp_repl: mask([1, L, 2, 32]) } })).rejects.toThrow(/needs mlp_mask/);
	});
});
