// A graph over protobuf's 2 GiB limit builds and runs: its weights reach onnxruntime as external data.
// A GPT-2-shaped model with an untied 280,000-token embedding and unembedding (1.15 GB of f32 each,
// 2.29 GB in all; onnxruntime takes at most 2 GiB per tensor) and zero blocks, whose logits are then
// ln_final(W_E[t]) · W_U[:, v], checked at a few vocabulary ids.
import { expect, it } from 'vitest';
import { buildModel } from '../../src/lib/core/graph';
import { specFromConfig } from '../../src/lib/core/model/config';
import { canonicalShapes } from '../../src/lib/core/model/spec';
import { numel, type Tensor } from '../../src/lib/core/model/tensor';
import { createNodeEngine } from '../../src/lib/core/runtime/node';

/** A fixed pattern of period 4099 (prime, so rows differ), filled by doubling copies (memcpy speed). */
function pattern(n: number, seed: number): Float32Array {
	const out = new Float32Array(n);
	const period = Math.min(n, 4099);
	for (let i = 0; i < period; i++) out[i] = (((i + seed) * 2654435761) % 1000) / 1000 - 0.5;
	for (let filled = period; filled < n; filled *= 2) out.copyWithin(filled, 0, Math.min(filled, n - filled));
	return out;
}

it('builds and runs a model of 2.29 GB of f32 weights (over 2 GiB) through external data', async () => {
	const V = 280_000;
	const D = 1024;
	const spec = specFromConfig({ model_type: 'gpt2', n_embd: D, n_head: 4, n_layer: 1, n_positions: 8, vocab_size: V, tie_word_embeddings: false });
	const weights = new Map<string, Tensor>();
	for (const [name, shape] of canonicalShapes(spec)) {
		const data = name === 'W_E' ? pattern(numel(shape), 1) : name === 'W_U' ? pattern(numel(shape), 2) : new Float32Array(numel(shape));
		if (/ln[12]\.w$|^ln_final\.w$/.test(name)) data.fill(1);
		weights.set(name, { data, shape });
	}
	const built = buildModel(spec, weights, {}, 4096);
	expect(built.weightBytes).toBeGreaterThan(2 ** 31);
	expect(built.model.length).toBeLessThan(1 << 20); // the ModelProto itself stays small
	const engine = await createNodeEngine({ spec, weights });
	try {
		const tokens = [3, V - 1, 12_345];
		const { logits } = await engine.run([tokens]);
		expect(logits.shape).toEqual([1, 3, V]);
		const [E, U] = [weights.get('W_E')!.data, weights.get('W_U')!.data]; // W_U is [D, V]
		for (const [p, t] of tokens.entries()) {
			// zero blocks and W_pos: the residual is W_E[t] throughout
			const x = E.subarray(t * D, (t + 1) * D);
			const mean = x.reduce((a, b) => a + b, 0) / D;
			const sd = Math.sqrt(x.reduce((a, b) => a + (b - mean) ** 2, 0) / D + 1e-5);
			for (const v of [0, 7, V - 1]) {
				let want = 0;
				for (let d = 0; d < D; d++) want += ((x[d] - mean) / sd) * U[d * V + v];
				expect(Math.abs(logits.data[p * V + v] - want), `position ${p}, id ${v}`).toBeLessThan(1e-3);
			}
		}
	} finally {
		await engine.dispose();
	}
});
