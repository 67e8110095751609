// Activation patching and path patching (DESIGN §4–§5).
// Activation patching (denoising): run the counterfactual prompt with the clean answer appended (the
// corrupted run) and restore one head's z — at every position, or at one position — to its clean-run
// value (MLP layers: hook_post). score = (m_patched − m_corrupt) / (m_clean − m_corrupt) on
// prompt-averaged metrics: 1 = the head alone restores the clean behaviour, 0 = no effect.
// Path patching to logits (Zhang et al. 2024; Wang et al. 2022): run the clean prompt with every head
// frozen at its clean z except the sender, which takes its counterfactual-run z; MLPs and norms
// recompute, so only the sender's direct path and its paths through MLPs reach the logits. score =
// mean over prompts of (logit_patched − logit_clean) / |logit_clean| of the correct first answer
// token; a head below −5% is a key head.
import type { Tensor } from '../model/tensor';
import { maxOf } from '../model/arrays';
import { allHeadPositions, allHeads, allMlps, meansOf, perComponent } from './components';
import { isKeyHead, pathPatchingChange, patchingScore, type MetricName } from './metrics';
import { sequenceLength, type PromptSet } from './prompts';
import type { HeadRef } from '../model/spec';
import { runScan, type Recipe, type ScanContext, type ScanOptions } from './scan';
import type { ScoreTable } from './scores';

/** Metrics a patching score is computed for (accuracy too, though its denominator is often 0). */
const PATCH_METRICS: readonly MetricName[] = ['logprob', 'logit_diff', 'accuracy'];

export interface PatchResult {
	/** Per metric: [L, H] (all positions) or [L, H, T] (per position, T = longest scored row). */
	heads: Partial<Record<MetricName, Tensor>>;
	/** Per metric: [L] (all positions only). */
	mlps?: Partial<Record<MetricName, Tensor>>;
	clean: Record<string, number>;
	corrupt: Record<string, number>;
	table: ScoreTable;
}

export interface PatchOptions extends ScanOptions {
	/** 'all' (default): restore a head at every position; 'each': one row per head × position. */
	positions?: 'all' | 'each';
	/** Also patch MLP layers (all-positions mode; default true). */
	mlps?: boolean;
}

function needCounterfactuals(set: PromptSet, what: string): void {
	if (!set.hasCounterfactuals) throw new RangeError(`${what} needs a counterfactual prompt for every prompt`);
}

/** Activation patching (denoising) of every head (and MLP layer); see the file comment. */
export async function patchScan(ctx: ScanContext, options: PatchOptions = {}): Promise<PatchResult> {
	const { set, spec: s } = ctx;
	needCounterfactuals(set, 'activation patching');
	const each = options.positions === 'each';
	const Tmax = maxOf(set.prompts.map(sequenceLength)) - 1; // rows are cut after the last scored position
	const heads = each ? allHeadPositions(s, Tmax) : allHeads(s);
	const mlps = !each && (options.mlps ?? true) ? allMlps(s) : [];
	const recipe = patchingRecipe(s.n_layers * s.n_heads * s.d_head, s.n_layers * s.d_mlp);
	const table = await runScan(ctx, [...heads, ...mlps], recipe, options);
	const clean = (await ctx.base('clean', {})).scores;
	const corrupt = (await ctx.base('corrupt', {})).scores;
	const metrics = PATCH_METRICS.filter((m) => m !== 'logit_diff' || set.hasLogitDiff);
	const score = (m: MetricName) => (c: number) => patchingScore(table.row(m, c), corrupt.row(m), clean.row(m));
	const L = s.n_layers;
	return {
		heads: Object.fromEntries(metrics.map((m) => [m, perComponent(each ? [L, s.n_heads, Tmax] : [L, s.n_heads], 0, score(m))])),
		mlps: mlps.length ? Object.fromEntries(metrics.map((m) => [m, perComponent([L], heads.length, score(m))])) : undefined,
		clean: meansOf(clean, metrics),
		corrupt: meansOf(corrupt, metrics),
		table
	};
}

/**
 * Restores clean activations: per prompt, its clean z [L, H, T, dh] and hook_post [L, T, M]
 * (T = its sequence length, recovered from the array size and the per-position stride).
 */
function patchingRecipe(zPerPosition: number, postPerPosition: number): Recipe {
	return {
		base: 'corrupt',
		needs: { clean: { z: true, post: true }, corrupt: {} },
		sources(runs) {
			const clean = runs.clean!;
			return {
				heads: (n) => ({ data: clean.z![n], T: clean.z![n].length / zPerPosition }),
				mlps: (n) => ({ data: clean.post![n], T: clean.post![n].length / postPerPosition })
			};
		}
	};
}

export interface PathResult {
	/** (logit_patched − logit_clean) / |logit_clean|, prompt-averaged: [L, H]. */
	heads: Tensor;
	/** Heads below −5% (Zhang et al.'s key heads), most negative first. */
	keyHeads: (HeadRef & { change: number })[];
	clean: Record<string, number>;
	table: ScoreTable;
}

/** Path patching of every head to the logits; see the file comment. */
export async function pathPatchScan(ctx: ScanContext, options: ScanOptions = {}): Promise<PathResult> {
	const { set, spec: s } = ctx;
	needCounterfactuals(set, 'path patching');
	const perPosition = s.n_layers * s.n_heads * s.d_head;
	const recipe: Recipe = {
		base: 'clean',
		needs: { clean: { z: true }, corrupt: { z: true } },
		sources(runs) {
			const [clean, corrupt] = [runs.clean!, runs.corrupt!];
			return {
				freeze: (n) => ({ data: clean.z![n], T: clean.z![n].length / perPosition }),
				heads: (n) => ({ data: corrupt.z![n], T: corrupt.z![n].length / perPosition })
			};
		}
	};
	const heads = allHeads(s);
	const table = await runScan(ctx, heads, recipe, options);
	const clean = (await ctx.base('clean', {})).scores;
	const base = clean.row('answer_logit');
	const scores = perComponent([s.n_layers, s.n_heads], 0, (c) => pathPatchingChange(table.row('answer_logit', c), base));
	const keyHeads = Array.from(scores.data, (change, i) => ({ layer: Math.floor(i / s.n_heads), head: i % s.n_heads, change }))
		.filter((h) => isKeyHead(h.change))
		.sort((a, b) => a.change - b.change);
	return { heads: scores, keyHeads, clean: meansOf(clean, ['answer_logit', 'logprob', 'accuracy']), table };
}
