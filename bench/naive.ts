// The mean-ablation head scan done the naive way, as a TransformerLens loop does it: one clean run with
// a cache for the means, then for each head one full forward over all prompts (right-padded to the
// longest) with that head's z replaced, logits at every position, scored from the full logits.
import { ablationScore, promptMetrics } from '../src/lib/core/experiments/metrics';
import { cleanRow, sequenceLength, type PromptSet } from '../src/lib/core/experiments/prompts';
import { rowMacs } from '../src/lib/core/experiments/cost';
import { maxOf } from '../src/lib/core/model/arrays';
import { hookName } from '../src/lib/core/model/hooks';
import type { Tensor } from '../src/lib/core/model/tensor';
import type { Engine } from '../src/lib/core/runtime/engine';

export interface NaiveResult {
	/** logprob drop per head [L, H]. */
	scores: Tensor;
	forwards: number;
	rows: number;
	flops: number;
}

export async function naiveMeanHeadScan(engine: Engine, set: PromptSet, onHead?: (done: number, total: number) => void): Promise<NaiveResult> {
	const s = engine.spec;
	const { n_layers: L, n_heads: H, d_head: dh } = s;
	// one batch of every prompt, right-padded to the longest (causal: padding changes no scored position)
	const lengths = set.prompts.map(sequenceLength);
	const T = maxOf(lengths);
	const tokens = set.prompts.map((p) => [...cleanRow(p), ...new Array<number>(T - sequenceLength(p)).fill(0)]);
	const N = tokens.length;
	const targets = { nPrompt: set.prompts.map((p) => p.prompt.length), answers: set.prompts.map((p) => p.answer) };
	const hooks = Array.from({ length: L }, (_, l) => hookName('attn.hook_z', l));
	const clean = await engine.run(tokens, { hooks });
	const cleanLogprob = promptMetrics(clean.logits, targets).logprob;
	// mean z per position over the prompts that have the position, per layer: [L][T, H, dh]
	const means = hooks.map((h) => {
		const z = clean.cache.get(h)!.data;
		const m = new Float32Array(T * H * dh);
		const block = H * dh;
		for (let t = 0; t < T; t++) {
			const have = lengths.filter((len) => len > t).length;
			for (let b = 0; b < N; b++)
				if (lengths[b] > t) for (let i = 0; i < block; i++) m[t * block + i] += z[(b * T + t) * block + i] / have;
		}
		return m;
	});
	let forwards = 1;
	let flops = 2 * N * rowMacs(s, T, T);
	const scores = new Float32Array(L * H);
	for (let l = 0; l < L; l++)
		for (let h = 0; h < H; h++) {
			const mask = new Float32Array(N * L * H).fill(1);
			const repl = new Float32Array(N * L * H * T * dh);
			for (let b = 0; b < N; b++) {
				mask[(b * L + l) * H + h] = 0;
				for (let t = 0; t < T; t++)
					repl.set(means[l].subarray((t * H + h) * dh, (t * H + h + 1) * dh), (((b * L + l) * H + h) * T + t) * dh);
			}
			const { logits } = await engine.run(tokens, { interventions: { head_mask: { data: mask, shape: [N, L, H] }, head_repl: { data: repl, shape: [N, L, H, T, dh] } } });
			scores[l * H + h] = ablationScore(cleanLogprob, promptMetrics(logits, targets).logprob);
			forwards++;
			flops += 2 * N * rowMacs(s, T, T);
			onHead?.(l * H + h + 1, L * H);
		}
	return { scores: { data: scores, shape: [L, H] }, forwards, rows: forwards * N, flops };
}
