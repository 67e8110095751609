// Faithfulness of a head set (a circuit candidate): the clean run's accuracy and logprob with the set
// ablated, with everything but the set ablated (the circuit alone), with every head ablated, and with
// random sets of the same size (mean and spread over seeded draws). All of them are rows of one scan.
// faithfulness = (m(circuit alone) − m(every head ablated)) / (m(full) − m(every head ablated)) on
// logprob: 1 when the set carries the whole effect of the heads, 0 when it carries none.
import type { Spec } from '../model/spec';
import { createRng } from '../tasks/rng';
import { ablationRecipe, positionRows, type AblationMethod } from './ablation';
import { positionAccuracy } from './metrics';
import { checkPermutation, resamplePermutation } from './replacements';
import type { HeadRef } from '../model/spec';
import { runScan, type Component, type ScanContext, type ScanOptions } from './scan';
import type { ScoreTable } from './scores';

export interface CircuitMetrics {
	accuracy: number;
	logprob: number;
	/** Accuracy per answer position. */
	position_accuracy: number[];
}

export interface Spread {
	mean: number;
	/** Sample standard deviation over the draws (0 for one draw). */
	std: number;
	values: number[];
}

export interface FaithfulnessOptions extends ScanOptions {
	heads: readonly HeadRef[];
	/** How heads are ablated (default 'mean'). */
	method?: AblationMethod;
	/** Seed of the random sets and of the resample permutation (default 0). */
	seed?: number;
	perm?: readonly number[];
	/** Random sets of the same size to draw (default 10). */
	randomSets?: number;
}

export interface FaithfulnessResult {
	heads: HeadRef[];
	method: AblationMethod;
	full: CircuitMetrics;
	/** The set ablated. */
	ablated: CircuitMetrics;
	/** Every head but the set ablated. */
	circuit: CircuitMetrics;
	/** Every head ablated. */
	empty: CircuitMetrics;
	random: {
		sets: HeadRef[][];
		ablated: { accuracy: Spread; logprob: Spread };
		circuit: { accuracy: Spread; logprob: Spread };
	};
	/** (logprob(circuit) − logprob(empty)) / (logprob(full) − logprob(empty)). */
	faithfulness: number;
}

const key = (h: HeadRef) => `${h.layer},${h.head}`;

function allHeadRefs(s: Spec): HeadRef[] {
	return Array.from({ length: s.n_layers * s.n_heads }, (_, i) => ({ layer: Math.floor(i / s.n_heads), head: i % s.n_heads }));
}

function checkHeads(s: Spec, heads: readonly HeadRef[]): HeadRef[] {
	const seen = new Set<string>();
	for (const h of heads) {
		if (!Number.isInteger(h.layer) || h.layer < 0 || h.layer >= s.n_layers || !Number.isInteger(h.head) || h.head < 0 || h.head >= s.n_heads)
			throw new RangeError(`faithfulness: head (${h.layer}, ${h.head}) is not in a model of ${s.n_layers} layers × ${s.n_heads} heads`);
		seen.add(key(h));
	}
	return allHeadRefs(s).filter((h) => seen.has(key(h)));
}

const complement = (s: Spec, set: readonly HeadRef[]) => {
	const inSet = new Set(set.map(key));
	return allHeadRefs(s).filter((h) => !inSet.has(key(h)));
};

function spread(values: number[]): Spread {
	const mean = values.reduce((a, b) => a + b, 0) / values.length;
	const std = values.length > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1)) : 0;
	return { mean, std, values };
}

function metricsOf(t: ScoreTable, c: number): CircuitMetrics {
	return {
		accuracy: t.mean('accuracy', c),
		logprob: t.mean('logprob', c),
		position_accuracy: positionAccuracy({ ...positionRows(t, c), logprob: [], accuracy: [], answer_logit: [] })
	};
}

export async function faithfulness(ctx: ScanContext, options: FaithfulnessOptions): Promise<FaithfulnessResult> {
	const { spec: s, set } = ctx;
	const method = options.method ?? 'mean';
	const seed = options.seed ?? 0;
	const heads = checkHeads(s, options.heads);
	const n = options.randomSets ?? 10;
	const rng = createRng(seed);
	const all = allHeadRefs(s);
	const sets = Array.from({ length: n }, () => rng.shuffle([...all]).slice(0, heads.length).sort((a, b) => a.layer - b.layer || a.head - b.head));
	const asSet = (hs: readonly HeadRef[]): Component => ({ kind: 'set', heads: hs, mlps: [] });
	// rows: the set, its complement, every head, then each random set and its complement
	const components = [asSet(heads), asSet(complement(s, heads)), asSet(all), ...sets.flatMap((r) => [asSet(r), asSet(complement(s, r))])];
	let perm: number[] | undefined;
	if (method === 'resample') {
		perm = options.perm ? [...options.perm] : resamplePermutation(set, seed);
		checkPermutation(perm, set.prompts.length);
	}
	const table = await runScan(ctx, components, ablationRecipe(set, method, perm, false), options);
	const full = metricsOf((await ctx.base('clean', {})).scores, 0);
	const empty = metricsOf(table, 2);
	const circuit = metricsOf(table, 1);
	const draws = (offset: number, metric: 'accuracy' | 'logprob') => spread(sets.map((_, i) => table.mean(metric, 3 + 2 * i + offset)));
	return {
		heads,
		method,
		full,
		ablated: metricsOf(table, 0),
		circuit,
		empty,
		random: {
			sets,
			ablated: { accuracy: draws(0, 'accuracy'), logprob: draws(0, 'logprob') },
			circuit: { accuracy: draws(1, 'accuracy'), logprob: draws(1, 'logprob') }
		},
		faithfulness: (circuit.logprob - empty.logprob) / (full.logprob - empty.logprob)
	};
}
