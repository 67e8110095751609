// The neuron lens (DESIGN §10; Doshi et al. 2023, Nanda et al. 2023) on a modular prompt set holding
// all p² pairs: every MLP neuron's activation grid A[a][b] (hook_post at the last prompt position,
// one batched capture of the set), its Fourier summary (fourier.ts: IPR, dominant frequency), the
// split into memorizing (low IPR) and generalizing neurons at a threshold χ, and pruning: the model
// with the neurons below χ ablated (or the k lowest, in a sweep beside a seeded random order), scored
// per group — train-clean, train-corrupted against the trained label (memorization) and against the
// true one, test. Pruning runs are rows of one scan (runScan 'set' components with neurons), so the
// whole sweep batches like any other scan.
// Per-neuron ablation importance works on any model and prompt set (neuronImportance).
import type { ArithTokenizer } from '../model/index';
import { hookName } from '../model/hooks';
import type { Spec } from '../model/spec';
import type { Engine } from '../runtime/engine';
import type { PromptRecord } from '../tasks/promptFile';
import { createRng } from '../tasks/rng';
import { ablationRecipe } from './ablation';
import { forEachBatch, type BatchControl } from './batches';
import { cachingRowBytes } from './cost';
import { otsuThreshold, spectrum, summarize } from './fourier';
import { ablationScore } from './metrics';
import { encodePromptSet, sequenceLength, type PromptSet } from './prompts';
import { positionMean } from './replacements';
import { runScan, ScanContext, type Component, type NeuronRef, type Recipe, type ScanOptions, type ScanProgress } from './scan';

export type { NeuronRef };

export class NeuronLensError extends Error {
	override name = 'NeuronLensError';
}

export const GROUPS = ['train_clean', 'train_corrupted', 'train_corrupted_true', 'test'] as const;
export type Group = (typeof GROUPS)[number];

/** Where each pair sits in the prompt list, and which rows form each group. */
export interface ModularLayout {
	p: number;
	/** Record index of pair a * p + b. */
	recordOf: Int32Array;
	/** Record indices per group; empty when the records carry no split (then only `all` is scored). */
	groups: Record<Group, number[]>;
	/** The records carry meta.split, meta.corrupted and meta.true_answer. */
	hasSplit: boolean;
}

const isIndex = (v: unknown, p: number): v is number => Number.isInteger(v) && (v as number) >= 0 && (v as number) < p;

/**
 * The layout of a modular prompt set (DESIGN §10): every record's meta has integers a and b, and the
 * set holds each of the p² pairs exactly once (p = meta.p, or √n). One-line errors otherwise.
 */
export function modularLayout(records: readonly PromptRecord[]): ModularLayout {
	const metas = records.map((r) => (r.meta ?? {}) as Record<string, unknown>);
	const bad = metas.findIndex((m) => !Number.isInteger(m.a) || !Number.isInteger(m.b));
	if (bad >= 0) throw new NeuronLensError(`not a modular prompt set: record ${bad + 1} (${JSON.stringify(records[bad].prompt)}) has no integer meta.a and meta.b (DESIGN §10)`);
	// a digit task's generated records carry meta.op but no meta.p: their a, b are not residues of anything
	const digits = metas.findIndex((m) => typeof m.op === 'string' && !Number.isInteger(m.p));
	if (digits >= 0) throw new NeuronLensError(`not a modular prompt set: record ${digits + 1} (${JSON.stringify(records[digits].prompt)}) comes from a digit task (meta.op '${metas[digits].op}', no meta.p); use a modular task such as add:p97`);
	// p from meta.p (generated sets carry it), else from the largest operand
	const p = Number.isInteger(metas[0].p) ? (metas[0].p as number) : 1 + metas.reduce((m, x) => Math.max(m, x.a as number, x.b as number), 0);
	if (p * p !== records.length)
		throw new NeuronLensError(`not a full modular prompt set: ${records.length} records, but p = ${p}${Number.isInteger(metas[0].p) ? '' : ' (the largest operand + 1)'} has p² = ${p * p} pairs (a modular task such as add:p97 with every pair, or a file of all pairs)`);
	const recordOf = new Int32Array(p * p).fill(-1);
	metas.forEach((m, i) => {
		if (!isIndex(m.a, p) || !isIndex(m.b, p)) throw new NeuronLensError(`record ${i + 1}: operands (${m.a}, ${m.b}) are not residues mod ${p}`);
		const k = (m.a as number) * p + (m.b as number);
		if (recordOf[k] >= 0) throw new NeuronLensError(`records ${recordOf[k] + 1} and ${i + 1} are both the pair (${m.a}, ${m.b}): each of the p² pairs must appear once`);
		recordOf[k] = i;
	});
	const hasSplit = metas.every((m) => (m.split === 'train' || m.split === 'test') && typeof m.corrupted === 'boolean' && typeof m.true_answer === 'string');
	const groups: Record<Group, number[]> = { train_clean: [], train_corrupted: [], train_corrupted_true: [], test: [] };
	if (hasSplit)
		metas.forEach((m, i) => {
			if (m.split === 'test') groups.test.push(i);
			else if (m.corrupted) groups.train_corrupted.push(i), groups.train_corrupted_true.push(i);
			else groups.train_clean.push(i);
		});
	return { p, recordOf, groups, hasSplit };
}

export interface NeuronSummary extends NeuronRef {
	/** IPR_r of the neuron's spectrum; NaN for a dead neuron (constant over every pair). */
	ipr: number;
	freq: [number, number];
	power_share: number;
}

export interface LensOptions extends BatchControl {
	/** Blocks whose MLP neurons to read (default every block). */
	layers?: readonly number[];
	/** IPR exponent (default 2). */
	r?: number;
	onProgress?: (p: ScanProgress) => void;
}

/** Activation grids of every neuron of `layers`: per layer [M, p²], neuron-major, pair a * p + b. */
export async function activationGrids(engine: Engine, set: PromptSet, layout: ModularLayout, layers: readonly number[], control: LensOptions = {}): Promise<Map<number, Float32Array>> {
	const s = engine.spec;
	const M = s.d_mlp;
	const N = layout.p * layout.p;
	const grids = new Map(layers.map((l) => [l, new Float32Array(M * N)]));
	const hooks = layers.map((l) => hookName('mlp.hook_post', l));
	const pairOf = new Int32Array(N);
	layout.recordOf.forEach((rec, pair) => (pairOf[rec] = pair));
	// rows of the prompt alone, batched by prompt length: the last position is the last prompt token
	const byLength = new Map<number, number[]>();
	set.prompts.forEach((q, n) => {
		const same = byLength.get(q.prompt.length);
		if (same) same.push(n);
		else byLength.set(q.prompt.length, [n]);
	});
	let done = 0;
	for (const [T, members] of byLength) {
		await forEachBatch(members, cachingRowBytes(s, T, 1), control, async (rows) => {
			const { cache } = await engine.run(rows.map((n) => set.prompts[n].prompt), { hooks });
			layers.forEach((l, i) => {
				const post = cache.get(hooks[i])!.data; // [B, T, M]
				const grid = grids.get(l)!;
				rows.forEach((n, b) => {
					const at = (b * T + T - 1) * M;
					for (let m = 0; m < M; m++) grid[m * N + pairOf[n]] = post[at + m];
				});
			});
			control.onProgress?.({ done: (done += rows.length), total: set.prompts.length, stage: 'activation grids' });
		});
	}
	return grids;
}

/** The Fourier summary of every neuron of the grids, layer by layer. */
export function summarizeNeurons(grids: ReadonlyMap<number, Float32Array>, p: number, r = 2, onProgress?: (p: ScanProgress) => void): NeuronSummary[] {
	const N = p * p;
	const out: NeuronSummary[] = [];
	const total = [...grids.values()].reduce((a, g) => a + g.length / N, 0);
	for (const [layer, grid] of grids) {
		const M = grid.length / N;
		for (let neuron = 0; neuron < M; neuron++) {
			const s = summarize(spectrum(grid.subarray(neuron * N, (neuron + 1) * N), p), p, r);
			out.push({ layer, neuron, ipr: s.ipr, freq: s.freq, power_share: s.powerShare });
			if (out.length % 32 === 0) onProgress?.({ done: out.length, total, stage: 'spectra' });
		}
	}
	return out;
}

export interface GroupAccuracy {
	/** Exact-match accuracy of the group (against the trained label; the true one for train_corrupted_true). */
	accuracy: number;
	n: number;
}

export type GroupScores = Partial<Record<Group | 'all', GroupAccuracy>>;

/** How a pruned neuron is ablated: zeroed, or replaced by its mean over the set at each position. */
export type NeuronAblation = 'zero' | 'mean';
export const NEURON_ABLATIONS: readonly NeuronAblation[] = ['mean', 'zero'];
/**
 * Pruning's default, for the CLI and the panel alike. Zeroing a ReLU neuron also takes away its average
 * output, a fixed shift of every logit that no pair's computation asks for; the mean removes only what the
 * neuron says about the pair. On models/mod-97 the neurons below Otsu's χ cost 2 test points mean-ablated
 * and 4 zeroed, for the same loss of the memorized labels.
 */
export const DEFAULT_NEURON_ABLATION: NeuronAblation = 'mean';

export interface PruneResult {
	threshold: number;
	ablation: NeuronAblation;
	pruned: NeuronRef[];
	before: GroupScores;
	after: GroupScores;
}

export interface SweepPoint {
	k: number;
	order: 'ipr' | 'random';
	groups: GroupScores;
}

export interface PruneOptions extends ScanOptions {
	/** Seed of the random order of the sweep (default 0). */
	seed?: number;
	/** Sweep points: k from 0 to the number of live neurons in this many steps (default 16). */
	steps?: number;
}

/**
 * Scores neuron sets on the modular set: one scan over (set, prompt) rows against the trained labels,
 * one over the corrupted prompts against their true labels. Returns group scores per set.
 */
export class PruneScorer {
	private readonly trueCtx: ScanContext | null;
	private readonly trueRecords: number[];

	constructor(
		private readonly ctx: ScanContext,
		private readonly layout: ModularLayout,
		tokenizer: ArithTokenizer,
		records: readonly PromptRecord[],
		readonly ablation: NeuronAblation
	) {
		this.trueRecords = layout.groups.train_corrupted_true;
		if (!this.trueRecords.length) {
			this.trueCtx = null;
			return;
		}
		const withTrue = this.trueRecords.map((i) => ({ ...records[i], answer: (records[i].meta as { true_answer: string }).true_answer, counterfactual: undefined }));
		this.trueCtx = new ScanContext(ctx.engine, encodePromptSet(tokenizer, withTrue, Infinity));
	}

	/** Zero, or the whole set's mean hook_post at each position (also for the rows scored against the true labels). */
	private async recipe(options: ScanOptions): Promise<Recipe> {
		if (this.ablation === 'zero') return { base: 'clean', needs: { clean: {} }, sources: () => ({}) };
		const s = this.ctx.spec;
		const run = await this.ctx.base('clean', { post: true }, options);
		const mean = positionMean(run.post!, this.ctx.set.prompts.map(sequenceLength), s.n_layers, s.d_mlp);
		return { base: 'clean', needs: { clean: {} }, sources: () => ({ mlps: () => mean }) };
	}

	async score(sets: readonly NeuronRef[][], options: ScanOptions = {}): Promise<GroupScores[]> {
		const components: Component[] = sets.map((neurons) => ({ kind: 'set', heads: [], mlps: [], neurons }));
		const recipe = await this.recipe(options);
		const table = await runScan(this.ctx, components, recipe, options);
		const trueTable = this.trueCtx ? await runScan(this.trueCtx, components, recipe, options) : null;
		const { groups, hasSplit } = this.layout;
		const N = this.ctx.set.prompts.length;
		return sets.map((_, c) => {
			const acc = (rows: number[], get: (n: number) => number): GroupAccuracy => ({ accuracy: rows.reduce((a, n) => a + get(n), 0) / rows.length, n: rows.length });
			const trained = (n: number) => table.get('accuracy', c, n);
			const out: GroupScores = { all: acc(Array.from({ length: N }, (_, n) => n), trained) };
			if (!hasSplit) return out;
			for (const g of ['train_clean', 'train_corrupted', 'test'] as const) if (groups[g].length) out[g] = acc(groups[g], trained);
			if (trueTable) out.train_corrupted_true = acc(groups.train_corrupted_true.map((_, j) => j), (j) => trueTable.get('accuracy', c, j));
			return out;
		});
	}
}

/** Live neurons (finite IPR), lowest IPR first (ties by layer, then neuron). */
export const byIpr = (neurons: readonly NeuronSummary[]): NeuronRef[] =>
	neurons.filter((n) => Number.isFinite(n.ipr)).sort((a, b) => a.ipr - b.ipr || a.layer - b.layer || a.neuron - b.neuron).map(({ layer, neuron }) => ({ layer, neuron }));

/** The neurons below χ pruned, scored per group against the unpruned model. */
export async function pruneBelow(scorer: PruneScorer, neurons: readonly NeuronSummary[], threshold: number, options: ScanOptions = {}): Promise<PruneResult> {
	const below = new Set(neurons.filter((n) => n.ipr < threshold).map((n) => `${n.layer}.${n.neuron}`)); // NaN (dead) is never below
	const pruned = byIpr(neurons).filter((n) => below.has(`${n.layer}.${n.neuron}`));
	const [before, after] = await scorer.score([[], pruned], options);
	return { threshold, ablation: scorer.ablation, pruned, before, after };
}

/** Accuracy per group with the k lowest-IPR neurons pruned, for k over `steps` points, beside a seeded random order of the same neurons. */
export async function pruneSweep(scorer: PruneScorer, neurons: readonly NeuronSummary[], options: PruneOptions = {}): Promise<SweepPoint[]> {
	const order = byIpr(neurons);
	const random = createRng(options.seed ?? 0).shuffle([...order]);
	const steps = options.steps ?? 16;
	const ks = [...new Set(Array.from({ length: steps + 1 }, (_, i) => Math.round((i * order.length) / steps)))];
	const sets = [...ks.map((k) => order.slice(0, k)), ...ks.map((k) => random.slice(0, k))];
	const scores = await scorer.score(sets, options);
	return scores.map((groups, i) => ({ k: ks[i % ks.length], order: i < ks.length ? 'ipr' : 'random', groups }));
}

export interface NeuronLensResult {
	p: number;
	r: number;
	neurons: NeuronSummary[];
	/** The activation grids the summaries come from, per layer [M, p²] (the page's worker keeps them for one neuron's view). */
	grids: Map<number, Float32Array>;
	/** χ: from the caller, or Otsu's split of log10 IPR (fourier.ts). */
	threshold: { value: number; from: 'given' | 'otsu' };
	/** Live neurons below and at or above χ, and dead ones. */
	counts: { memorizing: number; generalizing: number; dead: number };
}

/** The blocks whose neurons to read (default every one), checked: one-line errors for an attention-only model or a layer it lacks. */
export function lensLayers(s: Spec, layers?: readonly number[]): number[] {
	if (s.attn_only) throw new NeuronLensError('this model is attention-only: it has no MLP neurons');
	const out = layers ? [...layers] : Array.from({ length: s.n_layers }, (_, l) => l);
	for (const l of out) if (!Number.isInteger(l) || l < 0 || l >= s.n_layers) throw new NeuronLensError(`layer ${l} is not a block of this model (0 to ${s.n_layers - 1})`);
	return out;
}

/** Grids, spectra and the threshold of every neuron of a full modular set. */
export async function neuronLens(engine: Engine, set: PromptSet, layout: ModularLayout, options: LensOptions & { threshold?: number } = {}): Promise<NeuronLensResult> {
	const layers = lensLayers(engine.spec, options.layers);
	const r = options.r ?? 2;
	const grids = await activationGrids(engine, set, layout, layers, options);
	options.signal?.throwIfAborted();
	const neurons = summarizeNeurons(grids, layout.p, r, options.onProgress);
	const value = options.threshold ?? otsuThreshold(neurons.map((n) => n.ipr));
	const live = neurons.filter((n) => Number.isFinite(n.ipr));
	const memorizing = live.filter((n) => n.ipr < value).length;
	return {
		p: layout.p,
		r,
		neurons,
		grids,
		threshold: { value, from: options.threshold === undefined ? 'otsu' : 'given' },
		counts: { memorizing, generalizing: live.length - memorizing, dead: neurons.length - live.length }
	};
}

export interface NeuronImportance extends NeuronRef {
	/** logprob(clean) − logprob(neuron ablated), prompt-averaged (DESIGN §5). */
	logprob_drop: number;
	accuracy_drop: number;
}

/** Per-neuron ablation scores on any model and prompt set: one scan row per (neuron, prompt), [B,L,M] masks. */
export async function neuronImportance(ctx: ScanContext, options: ScanOptions & { method?: 'zero' | 'mean'; layers?: readonly number[] } = {}): Promise<NeuronImportance[]> {
	const s = ctx.spec;
	const layers = lensLayers(s, options.layers);
	const neurons: NeuronRef[] = layers.flatMap((layer) => Array.from({ length: s.d_mlp }, (_, neuron) => ({ layer, neuron })));
	const components: Component[] = neurons.map((n) => ({ kind: 'neuron', ...n }));
	const table = await runScan(ctx, components, ablationRecipe(ctx.set, options.method ?? 'mean', undefined, true), options);
	const base = (await ctx.base('clean', {})).scores;
	return neurons.map((n, c) => ({
		...n,
		logprob_drop: ablationScore(base.row('logprob'), table.row('logprob', c)),
		accuracy_drop: ablationScore(base.row('accuracy'), table.row('accuracy', c))
	}));
}
