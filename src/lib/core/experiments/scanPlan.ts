// Planning a scan, before any forward: the blocks its rows restart from, and the batch groups of its
// (component, prompt) rows. Rows of one group share the shape of their inputs — restart block, tokens,
// gathered positions, intervention inputs — so they run through one graph, in batches whose size the
// memory budget sets from the group's bytes per row (cost.ts). Rows an intervention cannot act on
// (a position past the row, an empty set) need no forward: they score as the base run.
import { maxOf } from '../model/arrays';
import type { Spec } from '../model/spec';
import { chooseStartLayers, rowBytes, type RowShape, type StartLayerCost } from './cost';
import type { PromptSet } from './prompts';

/** What planning needs of a component. */
export interface PlannedComponent {
	/** The block its intervention begins at: nothing below it changes. */
	firstLayer: number;
	/** Intervention inputs its rows need. */
	heads: RowShape['heads'];
	mlps: RowShape['mlps'];
	/** The shortest row it acts on (a head at position p acts on rows longer than p; an empty set on none). */
	actsFrom: number;
}

/** The inputs every row of a batch group shares. */
export interface BatchShape {
	/** The block rows restart from (0: from the tokens). */
	start: number;
	/** Tokens per row. */
	T: number;
	/** Positions gathered per row: the group's longest answer. */
	P: number;
	heads: RowShape['heads'];
	mlps: RowShape['mlps'];
	/** Logits gathered (and rows cut) at the scored positions. */
	gather: boolean;
}

/** One row of a scan: component c on prompt n. */
export interface ScanRow {
	c: number;
	n: number;
}

export interface BatchGroup {
	shape: BatchShape;
	rows: ScanRow[];
	/** Bytes per row (cost.ts rowBytes), from which the memory budget sets the batch size. */
	rowBytes: number;
}

export interface ScanPlan {
	/** By restart block, lowest first (rows restarting at the same block share a graph). */
	groups: BatchGroup[];
	/** Rows left as they are: they score as the base run. */
	unchanged: ScanRow[];
	/** Rows that run. */
	total: number;
}

export interface RestartChoice {
	/**
	 * Blocks rows may restart from: 'auto' (default) weighs skipped blocks against building one more
	 * graph per restart block; 'none' always starts from the tokens; or an explicit list.
	 */
	startLayers?: 'auto' | 'none' | readonly number[];
	/** Overrides the cost of a new graph in the 'auto' choice. */
	sessionCost?: StartLayerCost;
}

/** Tokens of prompt n's row: prompt + answer, cut after the last scored position when gathering (causal: later tokens change nothing scored). */
const rowLength = (set: PromptSet, n: number, gather: boolean) => set.prompts[n].prompt.length + set.prompts[n].answer.length - (gather ? 1 : 0);

/**
 * The blocks rows restart from (always 0 among them): fewer restarts, fewer graphs; more, fewer blocks
 * recomputed. `variants[i]` names the graph variant component i's rows run through (rows of different
 * variants restarting at one block need one graph each); by default all share one.
 */
export function restartBlocks(s: Spec, set: PromptSet, firstLayers: readonly number[], gather: boolean, choice: RestartChoice = {}, variants?: readonly string[]): number[] {
	const L = s.n_layers;
	const N = set.prompts.length;
	const tokensAt = new Array<number>(L).fill(0);
	const byKind = new Map<string, number[]>();
	firstLayers.forEach((l, i) => {
		if (l >= L) return;
		const kind = variants?.[i] ?? '';
		if (!byKind.has(kind)) byKind.set(kind, new Array<number>(L).fill(0));
		for (let n = 0; n < N; n++) {
			tokensAt[l] += rowLength(set, n, gather);
			byKind.get(kind)![l] += rowLength(set, n, gather);
		}
	});
	const Tmax = maxOf(set.prompts.map((_, n) => rowLength(set, n, gather)));
	const opt = choice.startLayers ?? 'auto';
	const starts = opt === 'none' ? [0] : opt === 'auto' ? chooseStartLayers(s, tokensAt, Tmax, choice.sessionCost, [...byKind.values()]) : [...new Set([0, ...opt])].sort((a, b) => a - b);
	if (starts.some((l) => !Number.isInteger(l) || l < 0 || l >= L)) throw new RangeError(`startLayers: [${starts}] must be blocks in [0, ${L})`);
	return starts;
}

const sameInputs = (a: Omit<BatchShape, 'P'>, b: Omit<BatchShape, 'P'>) => a.start === b.start && a.T === b.T && a.heads === b.heads && a.mlps === b.mlps;

/** Groups every (component, prompt) row by the inputs it needs; each component restarts from the highest restart block at or below its first layer. */
export function planScan(s: Spec, set: PromptSet, components: readonly PlannedComponent[], starts: readonly number[], gather: boolean): ScanPlan {
	const open: { shape: Omit<BatchShape, 'P'>; rows: ScanRow[] }[] = [];
	const unchanged: ScanRow[] = [];
	components.forEach((comp, c) => {
		const start = starts.filter((l) => l <= comp.firstLayer).at(-1)!;
		for (const group of set.groups) {
			const shape = { start, T: group.length - (gather ? 1 : 0), heads: comp.heads, mlps: comp.mlps, gather };
			if (shape.T < comp.actsFrom) {
				for (const n of group.members) unchanged.push({ c, n });
				continue;
			}
			let into = open.find((g) => sameInputs(g.shape, shape));
			if (!into) open.push((into = { shape, rows: [] }));
			for (const n of group.members) into.rows.push({ c, n });
		}
	});
	const groups = open
		.sort((a, b) => a.shape.start - b.shape.start)
		.map(({ shape, rows }): BatchGroup => {
			const full = { ...shape, P: maxOf(rows.map((r) => set.prompts[r.n].answer.length)) };
			return { shape: full, rows, rowBytes: rowBytes(s, { T: full.T, P: full.P, heads: full.heads, mlps: full.mlps, resid: full.start > 0 }) };
		});
	return { groups, unchanged, total: groups.reduce((a, g) => a + g.rows.length, 0) };
}
