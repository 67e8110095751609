// What an ablated component is replaced by (DESIGN §4): zero, the mean over the prompt set per
// absolute position (over the prompts that have that position), or another prompt's activation under
// a fixed seeded permutation without fixed points (resample ablation).
import { createRng } from '../tasks/rng';
import { maxOf } from '../model/arrays';
import type { PromptSet } from './prompts';
import { sequenceLength } from './prompts';

/** Activations of one prompt (or of the set's mean) in the intervention layout: heads [L, H, T, dh], MLPs [L, T, M]. */
export interface Source {
	data: Float32Array;
	/** Positions held per (layer, head) or per layer. */
	T: number;
}

/**
 * Mean over prompts per absolute position: `perPrompt[n]` is [outer, T_n, inner] (T_n = prompt n's
 * sequence length); position t averages the prompts with T_n > t. Returns [outer, T_max, inner].
 */
export function positionMean(perPrompt: readonly Float32Array[], lengths: readonly number[], outer: number, inner: number): Source {
	const T = maxOf(lengths);
	const sum = new Float64Array(outer * T * inner);
	const count = new Array<number>(T).fill(0);
	perPrompt.forEach((x, n) => {
		const Tn = lengths[n];
		for (let t = 0; t < Tn; t++) count[t]++;
		for (let o = 0; o < outer; o++)
			for (let t = 0; t < Tn; t++) {
				const [from, to] = [(o * Tn + t) * inner, (o * T + t) * inner];
				for (let i = 0; i < inner; i++) sum[to + i] += x[from + i];
			}
	});
	const data = new Float32Array(sum.length);
	for (let o = 0; o < outer; o++)
		for (let t = 0; t < T; t++) for (let i = 0; i < inner; i++) data[(o * T + t) * inner + i] = sum[(o * T + t) * inner + i] / count[t];
	return { data, T };
}

export class PermutationError extends Error {
	override name = 'PermutationError';
}

/** Checks that `perm` is a permutation of 0..n-1 without fixed points. */
export function checkPermutation(perm: readonly number[], n: number): void {
	if (perm.length !== n) throw new PermutationError(`resample permutation has ${perm.length} entries for ${n} prompts`);
	const seen = new Set<number>();
	perm.forEach((j, i) => {
		if (!Number.isInteger(j) || j < 0 || j >= n) throw new PermutationError(`resample permutation: entry ${i} is ${j}, not a prompt index in [0, ${n})`);
		if (j === i) throw new PermutationError(`resample permutation: prompt ${i} would take its own activation`);
		if (seen.has(j)) throw new PermutationError(`resample permutation: prompt ${j} is used twice`);
		seen.add(j);
	});
}

/** A seeded shuffle of `items` with no item left in place (rejection sampling; needs at least 2). */
function derange(items: number[], rng: ReturnType<typeof createRng>): number[] {
	for (;;) {
		const p = rng.shuffle([...items]);
		if (p.every((v, i) => v !== items[i])) return p;
	}
}

/**
 * The resampling permutation for `seed`: donors share the prompt's sequence length where possible
 * (each length group of 2+ prompts is deranged within itself; prompts alone at their length are
 * deranged among themselves, or spliced into another group's cycle when only one is left over).
 */
export function resamplePermutation(set: PromptSet, seed: number): number[] {
	const n = set.prompts.length;
	if (n < 2) throw new PermutationError('resample ablation needs at least 2 prompts');
	const rng = createRng(seed);
	const perm = new Array<number>(n);
	const alone: number[] = [];
	for (const g of set.groups) {
		if (g.members.length === 1) alone.push(g.members[0]);
		else derange(g.members, rng).forEach((donor, i) => (perm[g.members[i]] = donor));
	}
	if (alone.length >= 2) derange(alone, rng).forEach((donor, i) => (perm[alone[i]] = donor));
	else if (alone.length === 1) {
		const [s] = alone;
		const j = s === 0 ? 1 : 0; // any other prompt: s joins j's cycle, j -> s -> perm[j]
		[perm[s], perm[j]] = [perm[j], s];
	}
	checkPermutation(perm, n);
	return perm;
}

/**
 * Per prompt, the donor's activations [outer, T_n, inner] under `perm`; where the donor's sequence is
 * shorter than the prompt's, the positions it lacks take the set mean.
 */
export function resampled(perPrompt: readonly Float32Array[], set: PromptSet, perm: readonly number[], mean: Source, outer: number, inner: number): Source[] {
	return set.prompts.map((p, n) => {
		const Tn = sequenceLength(p);
		const donor = perm[n];
		const Td = sequenceLength(set.prompts[donor]);
		const out = new Float32Array(outer * Tn * inner);
		for (let o = 0; o < outer; o++)
			for (let t = 0; t < Tn; t++) {
				const from = t < Td ? perPrompt[donor].subarray((o * Td + t) * inner, (o * Td + t + 1) * inner) : mean.data.subarray((o * mean.T + t) * inner, (o * mean.T + t + 1) * inner);
				out.set(from, (o * Tn + t) * inner);
			}
		return { data: out, T: Tn };
	});
}
