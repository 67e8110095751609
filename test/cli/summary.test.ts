// capture's summary on a real-sized vocabulary: a 151,936-token logits row (Qwen2) gives the top
// predictions and softmax probabilities computed independently in float64; Math.max(...row) used to
// overflow the stack here.
import { describe, expect, it } from 'vitest';
import type { ArithTokenizer } from '../../src/lib/core/model/index';
import { tensorStats, topPredictions } from '../../src/cli/summary';

const V = 151_936;

// a byte-level-BPE-like stand-in: vocabulary entries spell the space as Ġ, decoding writes it
const tokenizer = { tokenStrings: (ids: number[]) => ids.map((id) => `Ġtok${id}`), decode: (ids: number[]) => ids.map((id) => ` tok${id}`).join('') } as unknown as ArithTokenizer;

describe('capture summary on a 151,936-token vocabulary', () => {
	// two positions; the last one is scored, with a seeded spread of logits and a known top 3
	const logits = new Float32Array(2 * V);
	for (let i = 0; i < V; i++) logits[V + i] = Math.fround(((i * 2654435761) % 1000) / 100 - 5); // in [-5, 5)
	logits[V + 151_935] = 12;
	logits[V + 3] = 11;
	logits[V + 70_000] = 10.5;
	logits[0] = 99; // the first position is never read
	const t = { data: logits, shape: [2, V] };

	it('topPredictions: the ids, logits and float64 softmax of the last position', () => {
		const last = Array.from(logits.subarray(V));
		const z = last.reduce((s, x) => s + Math.exp(x - 12), 0);
		const top = topPredictions(t, tokenizer, 3);
		expect(top.map((p) => p.id)).toEqual([151_935, 3, 70_000]);
		expect(top.map((p) => p.token)).toEqual(['Ġtok151935', 'Ġtok3', 'Ġtok70000']);
		expect(top.map((p) => p.text)).toEqual([' tok151935', ' tok3', ' tok70000']); // what the summary line prints
		expect(top.map((p) => p.logit)).toEqual([12, 11, 10.5]);
		top.forEach((p) => expect(p.prob).toBeCloseTo(Math.exp(p.logit - 12) / z, 12));
	});

	it('tensorStats over the whole [2, V] tensor', () => {
		const s = tensorStats(t);
		expect(s).toMatchObject({ shape: [2, V], min: -5, max: 99, nonfinite: 0 });
		expect(s.mean).toBeCloseTo(Array.from(logits).reduce((a, b) => a + b, 0) / (2 * V), 9);
	});
});
