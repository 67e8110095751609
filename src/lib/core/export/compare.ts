// Two models' scans of the same prompts side by side (issue: close the fine-tuning loop): a base model
// and its fine-tuned folder, or two training checkpoints. The difference of every head's and MLP's
// score (b − a) and of the clean metrics, as the CLI's `scan --compare` writes it and the dashboard's
// compare view draws it (one function, so the map equals the file).
import { toCsv } from './csv';
import type { HeadEntry, MlpEntry } from './headTable';

export interface ScanSide {
	clean: Record<string, number>;
	heads: readonly HeadEntry[];
	mlps: readonly MlpEntry[];
}

export interface HeadChange {
	layer: number;
	head: number;
	a: number;
	b: number;
	difference: number;
	rank_a: number;
	rank_b: number;
}

export interface MlpChange {
	layer: number;
	a: number;
	b: number;
	difference: number;
}

export interface ScanDifference {
	/** b − a of each clean metric both have. */
	clean: Record<string, number>;
	/** Every head, in layer-head order. */
	heads: HeadChange[];
	mlps: MlpChange[];
}

export class CompareError extends Error {
	override name = 'CompareError';
}

/** b − a per head, MLP and clean metric; the two scans must cover the same heads. */
export function scanDifference(a: ScanSide, b: ScanSide): ScanDifference {
	const key = (e: { layer: number; head?: number }) => `${e.layer}.${e.head ?? 'mlp'}`;
	const other = new Map(b.heads.map((e) => [key(e), e]));
	if (a.heads.length !== b.heads.length || a.heads.some((e) => !other.has(key(e))))
		throw new CompareError(`the two scans do not cover the same heads (${a.heads.length} and ${b.heads.length}): compare models of the same shape`);
	const heads = [...a.heads]
		.sort((x, y) => x.layer - y.layer || x.head - y.head)
		.map((e) => {
			const f = other.get(key(e))!;
			return { layer: e.layer, head: e.head, a: e.score, b: f.score, difference: f.score - e.score, rank_a: e.rank, rank_b: f.rank };
		});
	const otherMlp = new Map(b.mlps.map((m) => [m.layer, m]));
	const mlps = [...a.mlps]
		.filter((m) => otherMlp.has(m.layer))
		.sort((x, y) => x.layer - y.layer)
		.map((m) => ({ layer: m.layer, a: m.score, b: otherMlp.get(m.layer)!.score, difference: otherMlp.get(m.layer)!.score - m.score }));
	const clean = Object.fromEntries(Object.keys(a.clean).filter((k) => k in b.clean).map((k) => [k, b.clean[k] - a.clean[k]]));
	return { clean, heads, mlps };
}

/** layer,head,score_a,score_b,difference,rank_a,rank_b (MLP rows: head `mlp`, no ranks). */
export function differenceCsv(d: ScanDifference): string {
	return toCsv(
		['layer', 'head', 'score_a', 'score_b', 'difference', 'rank_a', 'rank_b'],
		[...d.heads.map((h) => [h.layer, h.head, h.a, h.b, h.difference, h.rank_a, h.rank_b]), ...d.mlps.map((m) => [m.layer, 'mlp', m.a, m.b, m.difference, null, null])]
	);
}
