// Attention patterns of every head on one prompt (teacher-forced with its answer), for the head
// detail view: one run with hook_pattern of each layer as outputs.
import { answerTokenTexts, tokenizeScored } from '$lib/core/model';
import { hookName } from '$lib/core/model/hooks';
import type { PatternArgs, PatternResult } from './protocol';
import { session } from './session';

export async function attentionPatterns({ prompt, answer }: PatternArgs): Promise<PatternResult> {
	const { model, engine } = session();
	const { n_layers: L, n_heads: H } = model.spec;
	const { prompt: promptIds, answer: answerIds } = tokenizeScored(model.tokenizer, prompt, answer);
	const ids = [...promptIds, ...answerIds];
	const T = ids.length;
	const hooks = Array.from({ length: L }, (_, l) => hookName('attn.hook_pattern', l));
	const { logits, cache } = await engine.run([ids], { hooks });
	const patterns = new Float32Array(L * H * T * T);
	hooks.forEach((h, l) => patterns.set(cache.get(h)!.data, l * H * T * T)); // each [1, H, T, T]

	// Greedy prediction at each position that predicts an answer token.
	const V = logits.shape[2];
	const predictedIds = answerIds.map((_, i) => {
		const row = logits.data.subarray((promptIds.length - 1 + i) * V, (promptIds.length + i) * V);
		let best = 0;
		for (let v = 1; v < V; v++) if (row[v] > row[best]) best = v;
		return best;
	});
	return {
		tokens: model.tokenizer.tokenStrings(ids),
		promptLength: promptIds.length,
		layers: L,
		heads: H,
		patterns,
		// as text (GPT-2's Ġ and SentencePiece's ▁ read as the spaces they are)
		predicted: answerTokenTexts(model.tokenizer, { prompt: promptIds, answer: predictedIds })
	};
}
