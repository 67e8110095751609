// The worker's neuron lens (DESIGN §10), through core on the shared ScanContext: the activation grids
// of every MLP neuron over the p² pairs stay here (p² × d_mlp floats per layer); the page gets the
// per-neuron summaries, one neuron's grid and spectrum on request, pruning below χ, the sweep, per-neuron
// importance, and the IPR distribution of each training checkpoint (each loaded here, one at a time).
import { encodePromptSet } from '$lib/core/experiments';
import { spectrum } from '$lib/core/experiments/fourier';
import {
	DEFAULT_NEURON_ABLATION,
	modularLayout,
	neuronLens,
	NeuronLensError,
	neuronImportance,
	PruneScorer,
	pruneBelow,
	pruneSweep,
	type ModularLayout,
	type NeuronAblation,
	type NeuronImportance,
	type NeuronSummary,
	type PruneResult,
	type SweepPoint
} from '$lib/core/experiments/neurons';
import type { ScanContext } from '$lib/core/experiments/scan';
import { loadModel, urlSource } from '$lib/core/model';
import type { Spec } from '$lib/core/model/spec';
import type { Engine } from '$lib/core/runtime';
import type { PromptRecord } from '$lib/core/tasks';
import { scanContext } from './experiments';
import type { CheckpointIpr, CheckpointsArgs, NeuronGridView, NeuronsArgs, NeuronsView, PruneArgs, ScanProgress, SweepArgs } from './protocol';
import { buildEngine, session } from './session';

type Progress = (p: ScanProgress) => void;

interface Lens {
	ctx: ScanContext;
	records: PromptRecord[];
	layout: ModularLayout;
	grids: Map<number, Float32Array>;
	neurons: NeuronSummary[];
	scorers: Map<'zero' | 'mean', PruneScorer>;
}

/** The last lens computed; prune, sweep and neuronGrid read it (the page asks for a lens first). */
let current: Lens | null = null;

function lensOf(): Lens {
	if (!current || current.ctx.engine !== session().engine) throw new NeuronLensError('no neuron lens computed for this model yet: compute the lens first');
	return current;
}

export async function lens(args: NeuronsArgs, signal: AbortSignal, onProgress: Progress): Promise<NeuronsView> {
	const layout = modularLayout(args.prompts);
	const ctx = scanContext(args.prompts);
	const r = args.r ?? 2;
	const found = await neuronLens(ctx.engine, ctx.set, layout, { layers: args.layer === undefined ? undefined : [args.layer], r, threshold: args.threshold, signal, onProgress });
	const { grids, neurons, threshold, counts } = found;
	current = { ctx, records: args.prompts, layout, grids, neurons, scorers: new Map() };
	return {
		p: layout.p,
		r,
		neurons,
		threshold,
		counts,
		layers: [...grids.keys()],
		hasSplit: layout.hasSplit,
		groups: { train_clean: layout.groups.train_clean.length, train_corrupted: layout.groups.train_corrupted.length, test: layout.groups.test.length }
	};
}

export function neuronGrid(layer: number, neuron: number): NeuronGridView {
	const { grids, layout } = lensOf();
	const all = grids.get(layer);
	const N = layout.p * layout.p;
	if (!all || !Number.isInteger(neuron) || neuron < 0 || neuron >= all.length / N) throw new NeuronLensError(`neuron ${layer}.${neuron} is not in the lens computed`);
	const grid = all.slice(neuron * N, (neuron + 1) * N);
	return { layer, neuron, p: layout.p, grid, spectrum: Float32Array.from(spectrum(grid, layout.p)) };
}

function scorer(lens: Lens, ablation: NeuronAblation): PruneScorer {
	let s = lens.scorers.get(ablation);
	if (!s) lens.scorers.set(ablation, (s = new PruneScorer(lens.ctx, lens.layout, session().model.tokenizer, lens.records, ablation)));
	return s;
}

export function prune(args: PruneArgs, signal: AbortSignal, onProgress: Progress): Promise<PruneResult> {
	const l = lensOf();
	return pruneBelow(scorer(l, args.ablation ?? DEFAULT_NEURON_ABLATION), l.neurons, args.threshold, { signal, onProgress });
}

export function sweep(args: SweepArgs, signal: AbortSignal, onProgress: Progress): Promise<SweepPoint[]> {
	const l = lensOf();
	return pruneSweep(scorer(l, args.ablation ?? DEFAULT_NEURON_ABLATION), l.neurons, { steps: args.steps, seed: args.seed, signal, onProgress });
}

/** Ablation score of every neuron on any prompt set, ablated as pruning ablates (the CLI's --importance likewise). */
export function importance(args: { prompts: PromptRecord[]; layer?: number; ablation?: NeuronAblation }, signal: AbortSignal, onProgress: Progress): Promise<NeuronImportance[]> {
	const ctx = scanContext(args.prompts);
	return neuronImportance(ctx, { layers: args.layer === undefined ? undefined : [args.layer], method: args.ablation ?? DEFAULT_NEURON_ABLATION, signal, onProgress });
}

const quantile = (sorted: number[], q: number) => {
	const at = (sorted.length - 1) * q;
	const lo = Math.floor(at);
	return sorted.length ? sorted[lo] + (sorted[Math.min(lo + 1, sorted.length - 1)] - sorted[lo]) * (at - lo) : NaN;
};

/** Each checkpoint loaded on the running backend, its grids and IPRs computed, then disposed. */
export async function checkpointIprs(args: CheckpointsArgs, signal: AbortSignal, onProgress: Progress): Promise<CheckpointIpr[]> {
	const layout = modularLayout(args.prompts);
	const { info } = session();
	const out: CheckpointIpr[] = [];
	for (const [i, c] of args.checkpoints.entries()) {
		signal.throwIfAborted();
		onProgress({ done: i, total: args.checkpoints.length, stage: `checkpoint step ${c.step}` });
		const model = await loadModel(urlSource(c.url));
		const { engine } = await buildEngine(model, info.backend); // the backend the page's model runs on
		try {
			const set = encodePromptSet(model.tokenizer, args.prompts, model.spec.pos === 'none' ? Infinity : model.spec.n_ctx);
			const { neurons } = await neuronLens(engine, set, layout, { layers: args.layer === undefined ? undefined : [args.layer], r: args.r ?? 2, signal });
			const iprs = neurons.map((n) => n.ipr).filter(Number.isFinite).sort((a, b) => a - b);
			out.push({ step: c.step, q1: quantile(iprs, 0.25), median: quantile(iprs, 0.5), q3: quantile(iprs, 0.75), below: iprs.filter((v) => v < args.threshold).length / iprs.length, n: iprs.length });
		} finally {
			await engine.dispose();
		}
	}
	onProgress({ done: args.checkpoints.length, total: args.checkpoints.length, stage: 'checkpoints' });
	return out;
}
