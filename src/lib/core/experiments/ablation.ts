// Ablation scans (DESIGN §4–§5). Clean run: prompt + answer, teacher-forced. Ablated run: the same
// tokens with one head's z (or one MLP layer's hook_post) replaced by zero, by its mean over the
// prompt set at each absolute position, or by another prompt's activation (resample, under a fixed
// permutation without fixed points). Score of a component = metric(clean) − metric(ablated),
// averaged over prompts, for every metric at once; accuracy and logprob drops per answer position too.
import type { Spec } from '../model/spec';
import type { Tensor } from '../model/tensor';
import { allHeads, allMlps, meansOf, perComponent, perPosition } from './components';
import { ablationScore, METRIC_NAMES, positionAccuracy, type MetricName } from './metrics';
import { sequenceLength, type PromptSet } from './prompts';
import { checkPermutation, positionMean, resamplePermutation, resampled } from './replacements';
import { runScan, type BaseRuns, type Component, type Recipe, type ScanContext, type ScanOptions, type Sources } from './scan';
import type { ScoreTable } from './scores';

export type AblationMethod = 'zero' | 'mean' | 'resample';
export const ABLATION_METHODS: readonly AblationMethod[] = ['zero', 'mean', 'resample'];

export interface AblationOptions extends ScanOptions {
	method: AblationMethod;
	/** Resample: the permutation (prompt n takes prompt perm[n]'s activation); default from `seed`. */
	perm?: readonly number[];
	/** Resample: seed of the permutation (default 0). */
	seed?: number;
	/** Scan heads (default true) and MLP layers (default true; none in attention-only models). */
	heads?: boolean;
	mlps?: boolean;
}

/** Drops (clean − ablated, prompt-averaged) per metric; per answer position for accuracy and logprob. */
export interface Drops {
	/** [L, H] for heads, [L] for MLPs, per metric the prompt set has. */
	metrics: Partial<Record<MetricName, Tensor>>;
	/** [..., P]: accuracy drop at answer position i, over the prompts whose answer reaches i. */
	position_accuracy: Tensor;
	position_logprob: Tensor;
}

export interface AblationResult {
	method: AblationMethod;
	/** Clean-run prompt means (logprob, accuracy, answer_logit, logit_diff when every prompt has a counterfactual answer). */
	clean: Record<string, number>;
	/** Clean accuracy per answer position. */
	clean_position_accuracy: number[];
	heads?: Drops;
	mlps?: Drops;
	/** The resample permutation used. */
	perm?: number[];
	/** Per (component, prompt) metrics, rows in `components` order: heads [L, H], then MLP layers. */
	table: ScoreTable;
	components: Component[];
	/** The clean run's per-prompt metrics. */
	base: ScoreTable;
}

/** Where ablated heads and MLPs take their replacement from, for each method (MLP activations are kept only when MLPs are ablated). */
export function ablationRecipe(set: PromptSet, method: AblationMethod, perm?: readonly number[], mlps = true): Recipe {
	if (method === 'zero') return { base: 'clean', needs: { clean: {} }, sources: () => ({}) };
	return {
		base: 'clean',
		needs: { clean: { z: true, post: mlps } },
		sources(runs: BaseRuns, s: Spec): Sources {
			const run = runs.clean!;
			const lengths = set.prompts.map(sequenceLength);
			const { n_layers: L, n_heads: H, d_head: dh, d_mlp: M } = s;
			const meanZ = positionMean(run.z!, lengths, L * H, dh);
			const meanPost = run.post ? positionMean(run.post, lengths, L, M) : undefined;
			if (method === 'mean') return { heads: () => meanZ, mlps: () => meanPost! };
			const z = resampled(run.z!, set, perm!, meanZ, L * H, dh);
			const post = run.post && meanPost ? resampled(run.post, set, perm!, meanPost, L, M) : undefined;
			return { heads: (n) => z[n], mlps: (n) => post![n] };
		}
	};
}

/** Drops of components [first, first + count) reshaped to `shape` (+ [P] per position). */
function drops(set: PromptSet, table: ScoreTable, base: ScoreTable, first: number, shape: number[]): Drops {
	const count = shape.reduce((a, b) => a * b, 1);
	const metrics: Drops['metrics'] = {};
	for (const m of METRIC_NAMES) {
		if (m === 'logit_diff' && !set.hasLogitDiff) continue;
		const clean = base.row(m);
		metrics[m] = perComponent(shape, first, (c) => ablationScore(clean, table.row(m, c)));
	}
	const P = table.P;
	return {
		metrics,
		position_accuracy: { data: perPosition(table, base, 'positionCorrect', first, count, (b, v) => b - v), shape: [...shape, P] },
		position_logprob: { data: perPosition(table, base, 'positionLogprob', first, count, (b, v) => b - v), shape: [...shape, P] }
	};
}

/** Ablates every head (and MLP layer) in turn; see the file comment. */
export async function ablationScan(ctx: ScanContext, options: AblationOptions): Promise<AblationResult> {
	const { set, spec: s } = ctx;
	const { method } = options;
	if (!ABLATION_METHODS.includes(method)) throw new RangeError(`ablation method '${method}' (valid: ${ABLATION_METHODS.join(', ')})`);
	let perm: number[] | undefined;
	if (method === 'resample') {
		perm = options.perm ? [...options.perm] : resamplePermutation(set, options.seed ?? 0);
		checkPermutation(perm, set.prompts.length);
	}
	const heads = options.heads ?? true ? allHeads(s) : [];
	const mlps = options.mlps ?? true ? allMlps(s) : [];
	const components = [...heads, ...mlps];
	const table = await runScan(ctx, components, ablationRecipe(set, method, perm, mlps.length > 0), options);
	const base = (await ctx.base('clean', {})).scores;
	const L = s.n_layers;
	return {
		method,
		clean: meansOf(base, set.hasLogitDiff ? METRIC_NAMES : METRIC_NAMES.filter((m) => m !== 'logit_diff')),
		clean_position_accuracy: positionAccuracy({ ...positionRows(base), logprob: [], accuracy: [], answer_logit: [] }),
		heads: heads.length ? drops(set, table, base, 0, [L, s.n_heads]) : undefined,
		mlps: mlps.length ? drops(set, table, base, heads.length, [L]) : undefined,
		perm,
		table,
		components,
		base
	};
}

/** Per-prompt answer-position correctness of component 0 (the shape metrics.ts's positionAccuracy reads). */
export function positionRows(t: ScoreTable, c = 0): { position_correct: number[][] } {
	return {
		position_correct: Array.from({ length: t.N }, (_, n) => {
			const row: number[] = [];
			for (let i = 0; i < t.P; i++) {
				const v = t.positionCorrect[(c * t.N + n) * t.P + i];
				if (Number.isNaN(v)) break;
				row.push(v);
			}
			return row;
		})
	};
}
