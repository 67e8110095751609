// A GPT-2-small-shaped model with seeded random weights (never committed: generated on each run) and a
// prompt set of random token ids, for benchmarking scans at a realistic size.
import { canonicalShapes, type Spec } from '../src/lib/core/model/spec';
import type { Tensor } from '../src/lib/core/model/tensor';
import { promptSetOf, type PromptSet } from '../src/lib/core/experiments/prompts';
import { createRng } from '../src/lib/core/tasks/rng';

export const GPT2_SMALL: Spec = {
	family: 'gpt2',
	n_layers: 12,
	d_model: 768,
	n_heads: 12,
	n_kv_heads: 12,
	d_head: 64,
	d_mlp: 3072,
	d_vocab: 50257,
	n_ctx: 1024,
	norm: 'LN',
	eps: 1e-5,
	act: 'gelu_new',
	gated: false,
	attn_only: false,
	pos: 'standard',
	rotary_dim: 0,
	rotary_base: 10000,
	parallel: false,
	qkv_bias: true,
	o_bias: true,
	mlp_bias: true,
	norm_bias: true,
	unembed_bias: false,
	tied: true,
	attn_scale: 0
};

/** GPT-2's initialisation scale (std 0.02), drawn uniformly; norm weights 1, every bias 0. */
export function randomWeights(spec: Spec, seed: number): Map<string, Tensor> {
	const rng = createRng(seed);
	const a = 0.02 * Math.sqrt(3);
	const weights = new Map<string, Tensor>();
	for (const [name, shape] of canonicalShapes(spec)) {
		const data = new Float32Array(shape.reduce((x, y) => x * y, 1));
		const leaf = name.slice(name.lastIndexOf('.') + 1);
		if (leaf === 'w') data.fill(1);
		else if (!leaf.startsWith('b')) for (let i = 0; i < data.length; i++) data[i] = (2 * rng.float() - 1) * a;
		weights.set(name, { data, shape });
	}
	return weights;
}

/**
 * n prompts of `promptTokens` random ids (after `bos` when given) followed by `answerTokens` random
 * answer ids (one sequence length).
 */
export function randomPromptSet(spec: Spec, n: number, promptTokens: number, answerTokens: number, seed: number, bos?: number): PromptSet {
	const rng = createRng(seed);
	const ids = (k: number) => Array.from({ length: k }, () => rng.int(0, spec.d_vocab - 1));
	const prompts = Array.from({ length: n }, (_, index) => ({ index, prompt: [...(bos === undefined ? [] : [bos]), ...ids(promptTokens)], answer: ids(answerTokens) }));
	return promptSetOf(prompts);
}
