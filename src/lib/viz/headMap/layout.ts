// Head map layout: cell positions, the figure's size, the symmetric diverging colour scale, and the
// caller's ranks resolved against the measured cells (which heads are numbered, which outlined).
import * as d3 from 'd3';
import { textWidth } from '../figure';
import type { HeadMapData, HeadMapOptions } from './index';

export const isScore = (v: number | null | undefined): v is number => v != null && Number.isFinite(v);

export interface RankedCell {
	layer: number;
	head: number;
	rank: number;
	score: number;
}

export interface HeadMapLayout {
	/** layers, heads (columns) */
	L: number;
	H: number;
	cs: number;
	titleH: number;
	/** y of the first row, x of the first column, x of the MLP column */
	top: number;
	left: number;
	mlpX: number;
	legendX: number;
	legendLen: number;
	width: number;
	height: number;
	/** half-width of the colour domain */
	m: number;
	color: d3.ScaleDiverging<string>;
	/** measured heads the caller ranked, best first */
	ranked: RankedCell[];
	rankOf: Map<string, number>;
	/** the top-k outlined and numbered */
	best: RankedCell[];
	isBest: Set<string>;
}

export const cellKey = (layer: number, head: number) => `${layer},${head}`;

export function headMapLayout(data: HeadMapData, opts: HeadMapOptions): HeadMapLayout {
	const L = data.heads.length;
	const H = d3.max(data.heads, (r) => r.length) ?? 0;
	const mlp = data.mlp;
	const cs = opts.cellSize;
	const all = [...data.heads.flat(), ...(mlp ?? [])].filter(isScore);
	const m = opts.domain ?? (d3.max(all, Math.abs) || 1);
	const color = d3.scaleDiverging(opts.interpolator).domain([-m, 0, m]).clamp(true);
	const ranked = (data.ranks ?? [])
		.filter((r) => isScore(data.heads[r.layer]?.[r.head]))
		.map((r) => ({ layer: r.layer, head: r.head, rank: r.rank, score: data.heads[r.layer][r.head]! }))
		.sort((a, b) => a.rank - b.rank);
	const rankOf = new Map(ranked.map((r) => [cellKey(r.layer, r.head), r.rank]));
	const best = ranked.slice(0, opts.topK);
	const isBest = new Set(best.map((r) => cellKey(r.layer, r.head)));

	const titleH = opts.title ? 20 : 0;
	const top = titleH + 30;
	const left = 46;
	const mlpX = left + H * cs + 10;
	const gridRight = mlp ? mlpX + cs : left + H * cs;
	const legendX = gridRight + 22;
	const legendLen = Math.max(L * cs, 90);
	const width = legendX + Math.max(10 + 4 + 48, textWidth(opts.scoreLabel) + 4);
	const height = top + legendLen + 10;
	return { L, H, cs, titleH, top, left, mlpX, legendX, legendLen, width, height, m, color, ranked, rankOf, best, isBest };
}
