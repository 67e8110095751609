// The one generic scan: every (component, prompt) pair is a batch row carrying its own intervention
// (DESIGN §4), so a scan costs about components × prompts / batch forwards. Rows run on the clean or
// the corrupted tokens, truncated after the last scored position (causal: later tokens change
// nothing scored), with logits computed and scored inside the graph only at the scored positions,
// and restart from the cached residual at a block at or below their intervention (the blocks below
// cannot change). Ablation, activation patching, path patching and circuit faithfulness are small
// recipes over runScan.
import type { Spec } from '../model/spec';
import { maxOf, minOf } from '../model/arrays';
import type { Engine, Interventions, RunOptions } from '../runtime/engine';
import { baseRun, covers, type Base, type BaseRun, type CacheNeeds, type RunControl } from './cache';
import { chooseStartLayers, rowMacs, rowsWithin, type StartLayerCost } from './cost';
import type { Tensor } from '../model/tensor';
import { answerPositions, cleanRow, corruptRow, type EncodedPrompt, type PromptSet } from './prompts';
import type { Source } from './replacements';
import { runScored, ScoreTable, scoreRows } from './scores';

export interface HeadRef {
	layer: number;
	head: number;
}

export type Component =
	| { kind: 'head'; layer: number; head: number }
	/** One head at one absolute position only. */
	| { kind: 'head_pos'; layer: number; head: number; position: number }
	| { kind: 'mlp'; layer: number }
	/** Several heads and MLP layers at once (circuits); an empty set leaves the run as it is. */
	| { kind: 'set'; heads: readonly HeadRef[]; mlps: readonly number[] };

/** Where intervened activations come from, per prompt n. */
export interface Sources {
	/** An intervened head's replacement z ([L, H, T, dh]); null = zero. */
	heads?: (n: number) => Source | null;
	/** An intervened MLP's replacement hook_post ([L, T, M]); null = zero. */
	mlps?: (n: number) => Source | null;
	/** Path patching: every head not intervened on is frozen at this z (the clean run's). */
	freeze?: (n: number) => Source;
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

export interface ScanOptions extends Omit<RunControl, 'onForward'> {
	onProgress?: (p: ScanProgress) => void;
	/**
	 * Blocks rows may restart from: 'auto' (default) weighs skipped blocks against building one more
	 * graph per restart block; 'none' always starts from the tokens; or an explicit list.
	 */
	startLayers?: 'auto' | 'none' | readonly number[];
	/** Overrides the cost of a new graph in the 'auto' choice. */
	sessionCost?: StartLayerCost;
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

export const emptyStats = (): ScanStats => ({ forwards: 0, rows: 0, tokens: 0, flops: 0, startLayers: [], ms: 0 });

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
	return minOf(c.mlps, minOf(c.heads.map((h) => h.layer)));
}

const isNoop = (c: Component, T: number) => (c.kind === 'head_pos' && c.position >= T) || (c.kind === 'set' && c.heads.length + c.mlps.length === 0);

interface Row {
	c: number;
	n: number;
}

/** Variant of the intervention inputs a component needs. */
function variant(c: Component, recipe: { freeze?: unknown }): { heads: 'none' | 'head' | 'head_pos'; mlps: 'none' | 'layer' } {
	if (c.kind === 'head') return { heads: 'head', mlps: 'none' };
	if (c.kind === 'head_pos') return { heads: 'head_pos', mlps: 'none' };
	if (c.kind === 'mlp') return { heads: recipe.freeze ? 'head' : 'none', mlps: 'layer' };
	return { heads: c.heads.length || recipe.freeze ? 'head' : 'none', mlps: c.mlps.length ? 'layer' : 'none' };
}

/**
 * Scores every component on every prompt. Returns a table C × N of per-prompt metrics (a component
 * that cannot act on a prompt — a position past its scored tokens, an empty set — scores as the base run).
 */
export async function runScan(ctx: ScanContext, components: readonly Component[], recipe: Recipe, options: ScanOptions = {}): Promise<ScoreTable> {
	const started = performance.now();
	const { set, spec: s } = ctx;
	const L = s.n_layers;
	const gather = options.gather ?? true;
	const N = set.prompts.length;
	const rowLength = (n: number) => set.prompts[n].prompt.length + set.prompts[n].answer.length - (gather ? 1 : 0);

	// Which blocks rows restart from: fewer restarts, fewer graphs; more, fewer blocks recomputed.
	const tokensAt = new Array<number>(L).fill(0);
	components.forEach((c) => {
		const l = firstLayer(c);
		if (l < L) for (let n = 0; n < N; n++) tokensAt[l] += rowLength(n);
	});
	const Tmax = maxOf(set.prompts.map((_, n) => rowLength(n)));
	const opt = options.startLayers ?? 'auto';
	const starts = opt === 'none' ? [0] : opt === 'auto' ? chooseStartLayers(s, tokensAt, Tmax, options.sessionCost) : [...new Set([0, ...opt])].sort((a, b) => a - b);
	if (starts.some((l) => !Number.isInteger(l) || l < 0 || l >= L)) throw new RangeError(`startLayers: [${starts}] must be blocks in [0, ${L})`);
	const startOf = (c: Component) => starts.filter((l) => l <= firstLayer(c)).at(-1)!;

	// The base runs the rows read: metrics of the uninterrupted run, replacement activations, restart residuals.
	const runs: BaseRuns = {};
	for (const [b, needs] of Object.entries(recipe.needs) as [Base, CacheNeeds][])
		if (b !== recipe.base) runs[b] = await ctx.base(b, needs, options);
	const rowBase = await ctx.base(recipe.base, { ...recipe.needs[recipe.base], residLayers: starts }, options);
	runs[recipe.base] = rowBase;
	const sources = recipe.sources(runs, s);

	const table = new ScoreTable(components.length, N, set.maxAnswer);
	const pending = new Map<string, Row[]>();
	components.forEach((c, ci) => {
		for (const group of set.groups) {
			const T = group.length - (gather ? 1 : 0);
			const v = variant(c, sources);
			const key = `${startOf(c)}|${T}|${v.heads}|${v.mlps}`;
			for (const n of group.members) {
				if (isNoop(c, T)) table.copyFrom(rowBase.scores, 0, ci, n);
				else {
					if (!pending.has(key)) pending.set(key, []);
					pending.get(key)!.push({ c: ci, n });
				}
			}
		}
	});
	const total = [...pending.values()].reduce((a, r) => a + r.length, 0);
	let done = 0;
	options.onProgress?.({ done, total, stage: 'scan' });
	const keys = [...pending.keys()].sort((a, b) => Number(a.split('|')[0]) - Number(b.split('|')[0]));
	for (const key of keys) {
		const rows = pending.get(key)!;
		const [start, T] = key.split('|').map(Number);
		const v = variant(components[rows[0].c], sources);
		const P = maxOf(rows.map((r) => set.prompts[r.n].answer.length));
		const size = options.batchRows ?? rowsWithin(s, { T, P, heads: v.heads, mlps: v.mlps, resid: start > 0 }, options.memoryBudget);
		for (let at = 0; at < rows.length; at += size) {
			options.signal?.throwIfAborted();
			const batch = rows.slice(at, at + size);
			const run = batchInputs(ctx, rowBase, batch, components, recipe.base, sources, { start, T, P, ...v, gather });
			const targets = batch.map((r) => set.prompts[r.n]);
			const scored = gather
				? (await runScored(ctx.engine, run.tokens, { ...run.options, positions: run.options.positions! }, targets, options.score ?? true)).scored
				: pickPositions((await ctx.engine.run(run.tokens, run.options)).logits, targets.map((p) => scoredSlots(p, P)));
			ctx.count(start)(batch.length, batch.length * T, gather ? P : T, gather && v.mlps === 'none' ? P : T); // graph/forward.ts gatherBeforeLastMlp
			scoreRows(table, scored, targets, batch.map((r) => r.c), batch.map((r) => r.n));
			done += batch.length;
			options.onProgress?.({ done, total, stage: 'scan' });
		}
	}
	ctx.stats.startLayers = starts;
	ctx.stats.ms += performance.now() - started;
	return table;
}

/** The answer positions of a prompt, padded to P slots by repeating the last (extra slots are not scored). */
function scoredSlots(p: EncodedPrompt, P: number): number[] {
	const pos = answerPositions(p);
	return Array.from({ length: P }, (_, i) => pos[Math.min(i, pos.length - 1)]);
}

/** Full logits [B, T, V] -> [B, P, V] at each row's positions (what the engine's gathered mode returns). */
function pickPositions(logits: Tensor, positions: readonly number[][]): Tensor {
	const [B, T, V] = logits.shape;
	const P = positions[0].length;
	const out = new Float32Array(B * P * V);
	positions.forEach((row, b) => row.forEach((t, i) => out.set(logits.data.subarray((b * T + t) * V, (b * T + t + 1) * V), (b * P + i) * V)));
	return { data: out, shape: [B, P, V] };
}

interface BatchShape {
	start: number;
	T: number;
	P: number;
	heads: 'none' | 'head' | 'head_pos';
	mlps: 'none' | 'layer';
	gather: boolean;
}

/** Copies positions [0, T) of (outer index o) from src [outer, src.T, inner] to dst at `to`. */
function copyPositions(dst: Float32Array, to: number, src: Source, o: number, T: number, inner: number, only?: number): void {
	if (only !== undefined) {
		dst.set(src.data.subarray((o * src.T + only) * inner, (o * src.T + only + 1) * inner), to + only * inner);
		return;
	}
	dst.set(src.data.subarray(o * src.T * inner, (o * src.T + T) * inner), to);
}

/** Tokens and engine options for one batch of rows. */
function batchInputs(
	ctx: ScanContext,
	base: BaseRun,
	rows: readonly Row[],
	components: readonly Component[],
	tokensOf: Base,
	recipe: Sources,
	shape: BatchShape
): { tokens: number[][]; options: RunOptions } {
	const { set, spec: s } = ctx;
	const { n_layers: L, n_heads: H, d_head: dh, d_mlp: M, d_model: D } = s;
	const { start, T, P } = shape;
	const B = rows.length;
	const prompts = rows.map((r) => set.prompts[r.n]);
	const tokens = prompts.map((p) => (tokensOf === 'clean' ? cleanRow(p) : corruptRow(p)).slice(0, T));
	const options: RunOptions = {};
	if (shape.gather) options.positions = prompts.map((p) => scoredSlots(p, P));
	if (start > 0) {
		const resid = new Float32Array(B * T * D);
		rows.forEach((r, b) => resid.set(base.resid.get(start)![r.n].subarray(0, T * D), b * T * D));
		options.start = { layer: start, resid: { data: resid, shape: [B, T, D] } };
	}
	const iv: Interventions = {};
	if (shape.heads !== 'none') {
		const perPos = shape.heads === 'head_pos' ? T : 1;
		const mask = new Float32Array(B * L * H * perPos).fill(1);
		const repl = new Float32Array(B * L * H * T * dh);
		const block = T * dh;
		rows.forEach(({ c, n }, b) => {
			const comp = components[c];
			if (recipe.freeze) {
				// every head from the restart block up takes its frozen z; the component's own then overrides it
				const frozen = recipe.freeze(n);
				for (let l = start; l < L; l++)
					for (let h = 0; h < H; h++) {
						const at = (b * L + l) * H + h;
						mask.fill(0, at * perPos, (at + 1) * perPos);
						copyPositions(repl, at * block, frozen, l * H + h, T, dh);
					}
			}
			const src = recipe.heads?.(n) ?? null;
			const heads: { layer: number; head: number; position?: number }[] =
				comp.kind === 'head' || comp.kind === 'head_pos' ? [comp] : comp.kind === 'set' ? [...comp.heads] : [];
			for (const { layer, head, position } of heads) {
				const at = (b * L + layer) * H + head;
				if (position === undefined) mask.fill(0, at * perPos, (at + 1) * perPos);
				else mask[at * perPos + position] = 0;
				if (src) copyPositions(repl, at * block, src, layer * H + head, T, dh, position);
				else if (recipe.freeze) repl.fill(0, at * block, (at + 1) * block);
			}
		});
		iv.head_mask = { data: mask, shape: shape.heads === 'head_pos' ? [B, L, H, T] : [B, L, H] };
		iv.head_repl = { data: repl, shape: [B, L, H, T, dh] };
	}
	if (shape.mlps !== 'none') {
		const mask = new Float32Array(B * L).fill(1);
		const repl = new Float32Array(B * L * T * M);
		rows.forEach(({ c, n }, b) => {
			const comp = components[c];
			const layers = comp.kind === 'mlp' ? [comp.layer] : comp.kind === 'set' ? comp.mlps : [];
			const src = recipe.mlps?.(n) ?? null;
			for (const l of layers) {
				mask[b * L + l] = 0;
				if (src) copyPositions(repl, (b * L + l) * T * M, src, l, T, M);
			}
		});
		iv.mlp_mask = { data: mask, shape: [B, L] };
		iv.mlp_repl = { data: repl, shape: [B, L, T, M] };
	}
	options.interventions = iv;
	return { tokens, options };
}
