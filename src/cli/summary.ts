// What `capture --json` prints: per tensor its shape and min/max/mean, and the model's top next-token
// predictions after the prompt.
import type { ArithTokenizer } from '../lib/core/model/index';
import { maxOf } from '../lib/core/model/arrays';
import type { Tensor } from '../lib/core/model/tensor';

export interface TensorStats {
	shape: number[];
	/** Over the finite values; hook_attn_scores holds -Infinity above the diagonal (the causal mask). */
	min: number | null;
	max: number | null;
	mean: number | null;
	/** How many values are ±Infinity or NaN (left out of min/max/mean). */
	nonfinite: number;
}

export function tensorStats(t: Tensor): TensorStats {
	let [min, max, sum, n] = [Infinity, -Infinity, 0, 0];
	for (const x of t.data) {
		if (!Number.isFinite(x)) continue;
		if (x < min) min = x;
		if (x > max) max = x;
		sum += x;
		n++;
	}
	return { shape: [...t.shape], min: n ? min : null, max: n ? max : null, mean: n ? sum / n : null, nonfinite: t.data.length - n };
}

export interface Prediction {
	id: number;
	/** The vocabulary entry ('Ġ46', '▁4'). */
	token: string;
	/** The text the model would write (' 46', '4'): what the summary line shows. */
	text: string;
	logit: number;
	prob: number;
}

/** The k most likely next tokens: softmax of the last position of logits [T,V]. */
export function topPredictions(logits: Tensor, tokenizer: ArithTokenizer, k = 5): Prediction[] {
	const [T, V] = logits.shape;
	const last = logits.data.subarray((T - 1) * V, T * V);
	const peak = maxOf(last);
	let z = 0;
	for (const x of last) z += Math.exp(x - peak);
	const ids = [...last.keys()].sort((a, b) => last[b] - last[a] || a - b).slice(0, k);
	const tokens = tokenizer.tokenStrings(ids);
	return ids.map((id, i) => ({ id, token: tokens[i], text: tokenizer.decode([id]), logit: last[id], prob: Math.exp(last[id] - peak) / z }));
}

/** JSON with 2-space indentation, but arrays of plain values (shapes, token ids) on one line. */
export function prettyJson(value: unknown, indent = ''): string {
	const plain = (x: unknown) => x === null || typeof x !== 'object';
	if (plain(value) || (Array.isArray(value) && value.every(plain))) return JSON.stringify(value);
	const inner = indent + '  ';
	const items = Array.isArray(value)
		? value.map((x) => inner + prettyJson(x, inner))
		: Object.entries(value as object)
				.filter(([, x]) => x !== undefined)
				.map(([k, x]) => `${inner}${JSON.stringify(k)}: ${prettyJson(x, inner)}`);
	const [open, close] = Array.isArray(value) ? ['[', ']'] : ['{', '}'];
	return items.length ? `${open}\n${items.join(',\n')}\n${indent}${close}` : open + close;
}
