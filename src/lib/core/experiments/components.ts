// The components a scan walks (every head, every MLP layer, every head at every position) and the
// reduction of a ScoreTable over prompts into per-component tensors.
import type { HeadRef, Spec } from '../model/spec';
import type { Tensor } from '../model/tensor';
import type { Component } from './scan';
import type { MetricName } from './metrics';
import type { ScoreTable } from './scores';

export const allHeads = (s: Spec): Component[] =>
	Array.from({ length: s.n_layers * s.n_heads }, (_, i) => ({ kind: 'head', layer: Math.floor(i / s.n_heads), head: i % s.n_heads }));

export const allMlps = (s: Spec): Component[] => (s.attn_only ? [] : Array.from({ length: s.n_layers }, (_, layer) => ({ kind: 'mlp', layer })));

/** Every head at every position in [0, T): [L, H, T] order. */
export const allHeadPositions = (s: Spec, T: number): Component[] =>
	allHeads(s).flatMap((c) => Array.from({ length: T }, (_, position) => ({ ...(c as HeadRef), kind: 'head_pos' as const, position })));

/** f(component index) for components [first, first + count), as a tensor of `shape`. */
export function perComponent(shape: number[], first: number, f: (c: number) => number): Tensor {
	const n = shape.reduce((a, b) => a * b, 1);
	return { data: Float32Array.from({ length: n }, (_, i) => f(first + i)), shape };
}

/**
 * Mean over prompts of g(base value, component value) at each answer position i, over the prompts
 * whose answer reaches i: [count, P] for components [first, first + count).
 */
export function perPosition(
	table: ScoreTable,
	base: ScoreTable,
	which: 'positionCorrect' | 'positionLogprob',
	first: number,
	count: number,
	g: (base: number, value: number) => number
): Float32Array {
	const { N, P } = table;
	const out = new Float32Array(count * P);
	for (let k = 0; k < count; k++)
		for (let i = 0; i < P; i++) {
			let [sum, m] = [0, 0];
			for (let n = 0; n < N; n++) {
				const v = table[which][((first + k) * N + n) * P + i];
				if (Number.isNaN(v)) continue; // this prompt's answer is shorter
				sum += g(base[which][n * base.P + i], v);
				m++;
			}
			out[k * P + i] = m ? sum / m : NaN;
		}
	return out;
}

/** Prompt means of a base run's metrics (the metrics it has). */
export function meansOf(base: ScoreTable, metrics: readonly MetricName[]): Record<string, number> {
	const out: Record<string, number> = {};
	for (const m of metrics) {
		const v = base.mean(m);
		if (!Number.isNaN(v)) out[m] = v;
	}
	return out;
}
