// The one generic scan: every (component, prompt) pair is a batch row carrying its own intervention
// (DESIGN §4), so a scan costs about components × prompts / batch forwards. Rows run on the clean or
// the corrupted tokens, truncated after the last scored position (causal: later tokens change
// nothing scored), with logits computed and scored inside the graph only at the scored positions,
// and restart from the cached residual at a block at or below their intervention (the blocks below
// cannot change). Ablation, activation patching, path patching and circuit faithfulness are small
// recipes over runScan. Which rows run in which batch is planned in scanPlan.ts, a batch's input
// tensors are packed in batchInputs.ts, and batches run through the loop of batches.ts.
import type { Spec } from '../model/spec';
import { minOf } from '../model/arrays';
import type { Engine } from '../runtime/engine';
import { forEachBatch } from './batches';
import { batchInputs, type RowTargets, type Sources } from './batchInputs';
import { baseRun, covers, type Base, type BaseRun, type CacheNeeds, type RunControl } from './cache';
import { rowMacs } from './cost';
import type { Tensor } from '../model/tensor';
import type { HeadRef } from '../model/spec';
import { scoredSlots, type PromptSet } from './prompts';
import { planScan, restartBlocks, type PlannedComponent, type RestartChoice } from './scanPlan';
import { runScored, ScoreTable, scoreRows } from './scores';

export type { Sources } from './batchInputs';

export type Component =
	| { kind: 'head'; layer: number; head: number }
	/** One head at one absolute position only. */
	| { kind: 'head_pos'; layer: number; head: number; position: number }
	| { kind: 'mlp'; layer: number }
	/** One MLP neuron (hook_post[..., neuron] of a block) at every position. */
	| { kind: 'neuron'; layer: number; neuron: number }
	/** Several heads, MLP layers and MLP neurons at once (circuits, pruning); an empty set leaves the run as it is. */
	| { kind: 'set'; heads: readonly HeadRef[]; mlps: readonly number[]; neurons?: readonly NeuronRef[] };

export interface NeuronRef {
	layer: number;
	neuron: number;
}

export type BaseRuns = Partial<Record<Base, BaseRun>>;

/** How a scan's rows intervene. */
export interface Recipe {
	/** Tokens the rows run on. */
	base: Base;
	/** Activations the sources read from the base runs (computed once per context). */
	needs: Partial<Record<Base, CacheNeeds>>;
	/** The sources, from the base runs holding `needs`. */
	sources(runs: BaseRuns, spec: Spec): Sources;
}

export interface ScanProgress {
	done: number;
	total: number;
	stage?: string;
}

export interface ScanOptions extends Omit<RunControl, 'onForward'>, RestartChoice {
	onProgress?: (p: ScanProgress) => void;
	/** Gather logits only at scored positions and cut rows after the last one (default true); scoring in the graph (`score`) needs it. */
	gather?: boolean;
}

/** What a scan ran: forwards, rows, tokens and the estimated cost (2 FLOPs per multiply-add). */
export interface ScanStats {
	forwards: number;
	rows: number;
	tokens: number;
	flops: number;
	startLayers: number[];
	ms: number;
}

const emptyStats = (): ScanStats => ({ forwards: 0, rows: 0, tokens: 0, flops: 0, startLayers: [], ms: 0 });

/** Shares base runs between the scans of one engine and prompt set (each computed once, extended when a scan needs more). */
export class ScanContext {
	private readonly runs = new Map<Base, BaseRun>();
	readonly stats = emptyStats();

	constructor(
		readonly engine: Engine,
		readonly set: PromptSet
	) {}

	get spec(): Spec {
		return this.engine.spec;
	}

	async base(which: Base, needs: CacheNeeds, options: ScanOptions = {}): Promise<BaseRun> {
		const old = this.runs.get(which);
		if (old && covers(old, needs, this.spec.attn_only)) return old;
		const union: CacheNeeds = {
			z: needs.z || !!old?.z,
			post: needs.post || !!old?.post,
			residLayers: [...(needs.residLayers ?? []), ...(old?.resid.keys() ?? [])]
		};
		const stage = `${which} run`;
		options.onProgress?.({ done: 0, total: this.set.prompts.length, stage });
		const count = this.count(0);
		let done = 0;
		const run = await baseRun(this.engine, this.set, which, union, {
			...options,
			onForward: (rows, tokens, positions) => {
				count(rows, tokens, positions);
				options.onProgress?.({ done: (done += rows), total: this.set.prompts.length, stage });
			}
		});
		this.runs.set(which, run);
		return run;
	}

	/** Adds one forward of `rows` rows to the running totals (`lastMlp`: positions per row the last block's MLP ran at). */
	count(start: number) {
		return (rows: number, tokens: number, positions: number, lastMlp = tokens / rows) => {
			this.stats.forwards++;
			this.stats.rows += rows;
			this.stats.tokens += tokens;
			this.stats.flops += 2 * rows * rowMacs(this.spec, tokens / rows, positions, start, lastMlp);
		};
	}
}

/** The block a component's intervention begins at: nothing below it changes. */
export function firstLayer(c: Component): number {
	if (c.kind !== 'set') return c.layer;
	return minOf((c.neurons ?? []).map((x) => x.layer), minOf(c.mlps, minOf(c.heads.map((h) => h.layer))));
}

/** What planning needs of a component: where it begins, the intervention inputs it needs and the rows it can act on. */
function planned(c: Component, sources: Sources): PlannedComponent {
	const first = firstLayer(c);
	if (c.kind === 'head') return { firstLayer: first, heads: 'head', mlps: 'none', actsFrom: 0 };
	if (c.kind === 'head_pos') return { firstLayer: first, heads: 'head_pos', mlps: 'none', actsFrom: c.position + 1 };
	if (c.kind === 'mlp') return { firstLayer: first, heads: sources.freeze ? 'head' : 'none', mlps: 'layer', actsFrom: 0 };
	if (c.kind === 'neuron') return { firstLayer: first, heads: sources.freeze ? 'head' : 'none', mlps: 'neuron', actsFrom: 0 };
	const neurons = c.neurons?.length ?? 0;
	const empty = c.heads.length + c.mlps.length + neurons === 0;
	const mlps = neurons ? 'neuron' : c.mlps.length ? 'layer' : 'none';
	return { firstLayer: first, heads: c.heads.length || sources.freeze ? 'head' : 'none', mlps, actsFrom: empty ? Infinity : 0 };
}

/** The heads and MLP layers a component's rows intervene on. */
function targetsOf(c: Component): RowTargets {
	if (c.kind === 'head' || c.kind === 'head_pos') return { heads: [c], mlps: [] };
	if (c.kind === 'mlp') return { heads: [], mlps: [c.layer] };
	if (c.kind === 'neuron') return { heads: [], mlps: [], neurons: [c] };
	return { heads: c.heads, mlps: c.mlps, neurons: c.neurons };
}

/**
 * Scores every component on every prompt. Returns a table C × N of per-prompt metrics (a component
 * that cannot act on a prompt — a position past its scored tokens, an empty set — scores as the base run).
 */
export async function runScan(ctx: ScanContext, components: readonly Component[], recipe: Recipe, options: ScanOptions = {}): Promise<ScoreTable> {
	const started = performance.now();
	const { set, spec: s } = ctx;
	const gather = options.gather ?? true;
	// head rows and MLP rows run through different graphs: a restart block costs one graph per kind restarting there
	const starts = restartBlocks(s, set, components.map(firstLayer), gather, options, components.map((c) => c.kind));

	// The base runs the rows read: metrics of the uninterrupted run, replacement activations, restart residuals.
	const runs: BaseRuns = {};
	for (const [b, needs] of Object.entries(recipe.needs) as [Base, CacheNeeds][])
		if (b !== recipe.base) runs[b] = await ctx.base(b, needs, options);
	const rowBase = await ctx.base(recipe.base, { ...recipe.needs[recipe.base], residLayers: starts }, options);
	runs[recipe.base] = rowBase;
	const sources = recipe.sources(runs, s);

	const plan = planScan(s, set, components.map((c) => planned(c, sources)), starts, gather);
	const table = new ScoreTable(components.length, set.prompts.length, set.maxAnswer);
	for (const { c, n } of plan.unchanged) table.copyFrom(rowBase.scores, 0, c, n);
	const targets = components.map(targetsOf);
	let done = 0;
	options.onProgress?.({ done, total: plan.total, stage: 'scan' });
	for (const { shape, rows, rowBytes } of plan.groups) {
		const { start, T, P } = shape;
		await forEachBatch(rows, rowBytes, options, async (batch) => {
			const run = batchInputs(s, set, rowBase, batch, targets, recipe.base, sources, shape);
			const prompts = batch.map((r) => set.prompts[r.n]);
			const scored = gather
				? (await runScored(ctx.engine, run.tokens, { ...run.options, positions: run.options.positions! }, prompts, options.score ?? true)).scored
				: pickPositions((await ctx.engine.run(run.tokens, run.options)).logits, prompts.map((p) => scoredSlots(p, P)));
			ctx.count(start)(batch.length, batch.length * T, gather ? P : T, gather && shape.mlps === 'none' ? P : T); // graph/forward.ts gatherBeforeLastMlp
			scoreRows(table, scored, prompts, batch.map((r) => r.c), batch.map((r) => r.n));
			done += batch.length;
			options.onProgress?.({ done, total: plan.total, stage: 'scan' });
		});
	}
	ctx.stats.startLayers = starts;
	ctx.stats.ms += performance.now() - started;
	return table;
}

/** Full logits [B, T, V] -> [B, P, V] at each row's positions (what the engine's gathered mode returns). */
function pickPositions(logits: Tensor, positions: readonly number[][]): Tensor {
	const [B, T, V] = logits.shape;
	const P = positions[0].length;
	const out = new Float32Array(B * P * V);
	positions.forEach((row, b) => row.forEach((t, i) => out.set(logits.data.subarray((b * T + t) * V, (b * T + t + 1) * V), (b * P + i) * V)));
	return { data: out, shape: [B, P, V] };
}
