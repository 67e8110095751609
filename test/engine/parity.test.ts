// Parity of the ONNX engine with the PyTorch reference (models/train/reference.py): every hook of
// prompt 0, the representative hooks of the other prompts, and every intervention batch of every
// fixture, on onnxruntime-node and on onnxruntime-web (WASM) in Node. Tolerance: the manifest's (1e-4).
// Scoring graphs return what the logits they replace give (log-normaliser, first argmax, target logits).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { folderSource } from '../../src/cli/node-source';
import type { HookName } from '../../src/lib/core/model/hooks';
import { loadModel, type LoadedModel } from '../../src/lib/core/model/index';
import type { Tensor } from '../../src/lib/core/model/tensor';
import type { Engine, Interventions } from '../../src/lib/core/runtime/engine';
import { createNodeEngine } from '../../src/lib/core/runtime/node';
import { createWasmNodeEngine } from '../../src/lib/core/runtime/web-node';
import { fixtureNames, maxAbsDiff, readFixture, unbatch, type Fixture } from './fixtures';

const BACKENDS = {
	node: (m: LoadedModel) => createNodeEngine(m),
	wasm: (m: LoadedModel) => createWasmNodeEngine(m)
} as const;

const names = fixtureNames();

it('finds the reference fixtures', () => {
	expect(names.length).toBeGreaterThanOrEqual(13);
});

function check(label: string, got: Tensor, want: Tensor, tol: number): void {
	const d = maxAbsDiff(got, want);
	console.log(`${label}: max |diff| ${d.toExponential(2)}`);
	expect(d, `${label}: max |diff| ${d} > ${tol}`).toBeLessThanOrEqual(tol);
}

describe.each(Object.keys(BACKENDS) as (keyof typeof BACKENDS)[])('%s', (backend) => {
	describe.each(names)('%s', (name) => {
		let fx: Fixture;
		let engine: Engine;
		beforeAll(async () => {
			fx = readFixture(name);
			engine = await BACKENDS[backend](await loadModel(folderSource(fx.modelDir)));
			expect(engine.backend).toBe(backend);
		});
		afterAll(() => engine?.dispose());

		it('captures every hook of prompt 0 and the sampled hooks of the others', async () => {
			const tol = fx.manifest.tolerance;
			for (const { prompt, hooks } of fx.manifest.captures) {
				const { logits, cache } = await engine.run([fx.manifest.tokens[prompt]], { hooks: hooks as HookName[] });
				check(`${backend} ${name} capture.${prompt}.logits`, unbatch(logits), fx.float(`capture.${prompt}.logits`), tol);
				for (const h of hooks as HookName[]) {
					const got = cache.get(h);
					expect(got, `${h} missing from the cache`).toBeDefined();
					check(`${backend} ${name} capture.${prompt}.${h}`, unbatch(got!), fx.float(`capture.${prompt}.${h}`), tol);
				}
			}
		});

		it('matches every intervention batch', async () => {
			for (const [method, { inputs }] of Object.entries(fx.manifest.interventions)) {
				const interventions: Interventions = {};
				for (const key of inputs) interventions[key as keyof Interventions] = fx.float(`iv.${method}.${key}`);
				const { logits } = await engine.run(fx.int(`iv.${method}.tokens`), { interventions });
				check(`${backend} ${name} iv.${method}`, logits, fx.float(`iv.${method}.logits`), fx.manifest.tolerance);
			}
		});

		it('gathers logits at chosen positions, equal to the full logits there', async () => {
			const method = 'zero';
			const tokens = fx.int(`iv.${method}.tokens`);
			const T = tokens[0].length;
			// a different pair of positions per row, including the first and last
			const positions = tokens.map((_, b) => [(b * 3) % T, T - 1 - (b % T)]);
			const interventions: Interventions = {};
			for (const key of fx.manifest.interventions[method].inputs)
				interventions[key as keyof Interventions] = fx.float(`iv.${method}.${key}`);
			const { logits } = await engine.run(tokens, { interventions, positions });
			const full = fx.float(`iv.${method}.logits`); // [B, T, V]
			const V = full.shape[2];
			const want = new Float32Array(tokens.length * 2 * V);
			positions.forEach((row, b) =>
				row.forEach((t, p) => want.set(full.data.subarray((b * T + t) * V, (b * T + t + 1) * V), (b * 2 + p) * V))
			);
			check(`${backend} ${name} gathered logits`, logits, { data: want, shape: [tokens.length, 2, V] }, fx.manifest.tolerance);
			// hooks after the last block's attention keep every position (the graph then gathers after ln_final instead)
			const L = engine.spec.n_layers;
			const hooks = [`blocks.${L - 1}.hook_resid_post`, 'ln_final.hook_normalized'] as const;
			const hooked = await engine.run(tokens, { interventions, positions, hooks });
			const everywhere = await engine.run(tokens, { interventions, hooks });
			check(`${backend} ${name} gathered logits with late hooks`, hooked.logits, logits, 1e-5);
			for (const h of hooks) check(`${backend} ${name} ${h} with gathered logits`, hooked.cache.get(h)!, everywhere.cache.get(h)!, 1e-5);
		});

		it('scores in the graph: log-normaliser, first argmax and target logits of the logits it keeps', async () => {
			const method = 'zero';
			const tokens = fx.int(`iv.${method}.tokens`);
			const T = tokens[0].length;
			const positions = tokens.map((_, b) => [T - 1 - (b % T), (b * 3) % T]);
			const targets = positions.map((row, b) => row.map((t, p) => [(b + t) % 5, (7 * b + p) % 11, 0]));
			const interventions: Interventions = {};
			for (const key of fx.manifest.interventions[method].inputs)
				interventions[key as keyof Interventions] = fx.float(`iv.${method}.${key}`);
			const { scores, logits } = await engine.run(tokens, { interventions, positions, score: { targets, logits: true } });
			const V = logits!.shape[2];
			const [B, P, K] = [tokens.length, 2, 3];
			const want = { lse: new Float32Array(B * P), argmax: new Float32Array(B * P), picked: new Float32Array(B * P * K) };
			for (let s = 0; s < B * P; s++) {
				const row = logits!.data.subarray(s * V, (s + 1) * V);
				let [max, argmax] = [-Infinity, -1];
				row.forEach((x, v) => x > max && ([max, argmax] = [x, v])); // first maximum
				want.lse[s] = max + Math.log(row.reduce((a, x) => a + Math.exp(x - max), 0));
				want.argmax[s] = argmax;
				targets[Math.floor(s / P)][s % P].forEach((id, k) => (want.picked[s * K + k] = row[id]));
			}
			check(`${backend} ${name} score_logsumexp`, scores.logsumexp, { data: want.lse, shape: [B, P] }, 1e-5);
			check(`${backend} ${name} score_logits`, scores.logits, { data: want.picked, shape: [B, P, K] }, 0);
			expect(Array.from(scores.argmax.data), 'score_argmax').toEqual(Array.from(want.argmax));
			// without logits: the same scores from the score-only graph
			const only = await engine.run(tokens, { interventions, positions, score: { targets } });
			expect(only.logits).toBeUndefined();
			check(`${backend} ${name} score-only logsumexp`, only.scores.logsumexp, scores.logsumexp, 1e-6);
			expect(Array.from(only.scores.argmax.data)).toEqual(Array.from(scores.argmax.data));
		});
	});
});
