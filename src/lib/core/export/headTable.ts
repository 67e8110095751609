// Head-importance tables (DESIGN §7): scan scores [L, H] (and per-MLP-layer [L]) -> ranked entries,
// the CSV `layer,head,score,rank,accuracy_drop,logprob_drop[,accuracy_drop_pos<i>…]` and the JSON
// report {provenance, clean, heads, mlps}.

import type { Tensor } from '../model/tensor';
import { maxOf } from '../model/arrays';
import { toCsv, type CsvCell } from './csv';
import type { Provenance } from './provenance';
import { ranks, type RankOrder } from './rank';

export interface HeadEntry {
	layer: number;
	head: number;
	score: number;
	rank: number;
	/** Ablation scans: clean minus ablated accuracy and logprob (absent for patching scans). */
	accuracy_drop?: number;
	logprob_drop?: number;
	/** Accuracy drop per answer position (digit), first answer token first. */
	position_accuracy_drop?: number[];
}

export interface MlpEntry {
	layer: number;
	score: number;
	rank: number;
	accuracy_drop?: number;
	logprob_drop?: number;
}

export interface HeadScores {
	score: Tensor; // [L, H]
	accuracy_drop?: Tensor; // [L, H]
	logprob_drop?: Tensor; // [L, H]
	position_accuracy_drop?: Tensor; // [L, H, P]
}

export interface MlpScores {
	score: Tensor; // [L]
	accuracy_drop?: Tensor;
	logprob_drop?: Tensor;
}

function checkShape(name: string, t: Tensor | undefined, shape: number[], trailing = 0) {
	if (t && (t.shape.length !== shape.length + trailing || shape.some((d, i) => t.shape[i] !== d))) {
		throw new RangeError(`${name}: shape [${t.shape}] does not start with [${shape}]`);
	}
}

/** One entry per head, sorted by rank (1 = most important under `order`). */
export function headEntries(s: HeadScores, order: RankOrder = 'descending'): HeadEntry[] {
	if (s.score.shape.length !== 2) throw new RangeError(`headEntries: score must be [L, H], got [${s.score.shape}]`);
	const [L, H] = s.score.shape;
	checkShape('accuracy_drop', s.accuracy_drop, [L, H]);
	checkShape('logprob_drop', s.logprob_drop, [L, H]);
	checkShape('position_accuracy_drop', s.position_accuracy_drop, [L, H], 1);
	const P = s.position_accuracy_drop?.shape[2] ?? 0;
	const r = ranks(Array.from(s.score.data), order);
	const entries: HeadEntry[] = [];
	for (let i = 0; i < L * H; i++) {
		const e: HeadEntry = { layer: Math.floor(i / H), head: i % H, score: s.score.data[i], rank: r[i] };
		if (s.accuracy_drop) e.accuracy_drop = s.accuracy_drop.data[i];
		if (s.logprob_drop) e.logprob_drop = s.logprob_drop.data[i];
		if (s.position_accuracy_drop) e.position_accuracy_drop = Array.from(s.position_accuracy_drop.data.subarray(i * P, (i + 1) * P));
		entries.push(e);
	}
	return entries.sort((a, b) => a.rank - b.rank);
}

export function mlpEntries(s: MlpScores, order: RankOrder = 'descending'): MlpEntry[] {
	if (s.score.shape.length !== 1) throw new RangeError(`mlpEntries: score must be [L], got [${s.score.shape}]`);
	checkShape('accuracy_drop', s.accuracy_drop, s.score.shape);
	checkShape('logprob_drop', s.logprob_drop, s.score.shape);
	const r = ranks(Array.from(s.score.data), order);
	return Array.from(s.score.data, (score, layer) => {
		const e: MlpEntry = { layer, score, rank: r[layer] };
		if (s.accuracy_drop) e.accuracy_drop = s.accuracy_drop.data[layer];
		if (s.logprob_drop) e.logprob_drop = s.logprob_drop.data[layer];
		return e;
	}).sort((a, b) => a.rank - b.rank);
}

const HEAD_TABLE_COLUMNS = ['layer', 'head', 'score', 'rank', 'accuracy_drop', 'logprob_drop'] as const;

/** Entries in the given order; empty cells where a scan has no such value; accuracy_drop_pos<i> columns if any entry has them. */
export function headTableCsv(entries: readonly HeadEntry[]): string {
	const P = maxOf(entries.map((e) => e.position_accuracy_drop?.length ?? 0), 0);
	const header = [...HEAD_TABLE_COLUMNS, ...Array.from({ length: P }, (_, i) => `accuracy_drop_pos${i}`)];
	const rows = entries.map((e): CsvCell[] => [
		e.layer, e.head, e.score, e.rank, e.accuracy_drop, e.logprob_drop,
		...Array.from({ length: P }, (_, i) => e.position_accuracy_drop?.[i])
	]);
	return toCsv(header, rows);
}

export interface HeadReport {
	provenance: Provenance;
	/** Clean-run metrics averaged over prompts (logprob, accuracy, answer_logit, logit_diff…). */
	clean: Record<string, number>;
	heads: HeadEntry[];
	mlps: MlpEntry[];
}

/** The JSON export. JSON has no NaN or Infinity: such scores are written as null. */
export function headReportJson(report: HeadReport): string {
	const { provenance, clean, heads, mlps } = report;
	return JSON.stringify({ provenance, clean, heads, mlps }, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n';
}
