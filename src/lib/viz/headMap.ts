// Layer × head heat map of component scores (ablation/patching), with an optional MLP column.
//
// Rows are layers (layer 0 on top, as TransformerLens plots them), columns are heads. Colour is a
// diverging scale centred at 0 over a symmetric domain, so equal |score| reads as equal strength
// and sign is hue: blue positive, red negative (d3.interpolateRdBu, ColorBrewer's colour-blind-safe
// diverging scheme). The caller's top-k heads are outlined and numbered by rank.
//
// Ranks are data, not the figure's choice: the caller passes the ranking it exports (core/export
// ranks each method's scores in its own order: ablation and patching high-first, path patching most
// negative first), so the map, the top-heads list and the CSV always agree. A head without a measured
// score is drawn unranked whatever rank it is given.
import * as d3 from 'd3';
import { colorRamp } from './legend';
import { createTooltip, interactiveGrid, rectBox, type Grid } from './interaction';
import { formatNumber, mountSvg, sizeSvg, textColorOn, textWidth, figureHandle, type FigureHandle, type Target } from './figure';

export interface HeadMapData {
	/** scores[layer][head]; NaN or null marks a head that was not measured */
	heads: readonly (readonly (number | null)[])[];
	/** one score per layer for the MLP column, drawn beside the heads when given */
	mlp?: readonly (number | null)[];
	/** the caller's ranking, 1 = most important (a scan's HeadEntry list fits); none: nothing numbered */
	ranks?: readonly HeadRank[];
}

export interface HeadRank {
	layer: number;
	head: number;
	/** 1 = most important */
	rank: number;
}

export interface HeadMapOptions {
	cellSize: number;
	/** how many of the highest-ranked heads to outline and number (0 for none) */
	topK: number;
	/** half-width of the symmetric colour domain; default max |score| of heads and MLPs, so two
	 * maps share one scale only when the caller passes the same value to both */
	domain?: number;
	interpolator: (t: number) => string;
	/** what the score is, for the legend and tooltips ("logprob drop") */
	scoreLabel: string;
	title?: string;
	selected?: { layer: number; head: number } | null;
	format: (v: number) => string;
	onSelect?: (layer: number, head: number) => void;
	onSelectMlp?: (layer: number) => void;
}

export const HEAD_MAP_DEFAULTS: HeadMapOptions = {
	cellSize: 24,
	topK: 5,
	interpolator: d3.interpolateRdBu,
	scoreLabel: 'score',
	format: formatNumber
};

const isScore = (v: number | null | undefined): v is number => v != null && Number.isFinite(v);

export function headMap(target: Target, data: HeadMapData, options: Partial<HeadMapOptions> = {}): FigureHandle<HeadMapData, HeadMapOptions> {
	const { svg, owned } = mountSvg(target, 'head-map');
	let opts: HeadMapOptions = { ...HEAD_MAP_DEFAULTS, ...options };
	let grid: Grid | null = null;

	function draw(data: HeadMapData) {
		const keep = grid?.focused() ?? null;
		grid?.destroy();
		svg.replaceChildren();
		const L = data.heads.length;
		const H = d3.max(data.heads, (r) => r.length) ?? 0;
		const mlp = data.mlp;
		const { cellSize: cs, format } = opts;
		const all = [...data.heads.flat(), ...(mlp ?? [])].filter(isScore);
		const m = opts.domain ?? (d3.max(all, Math.abs) || 1);
		const color = d3.scaleDiverging(opts.interpolator).domain([-m, 0, m]).clamp(true);
		const ranked = (data.ranks ?? [])
			.filter((r) => isScore(data.heads[r.layer]?.[r.head]))
			.map((r) => ({ layer: r.layer, head: r.head, rank: r.rank, score: data.heads[r.layer][r.head]! }))
			.sort((a, b) => a.rank - b.rank);
		const rankOf = new Map(ranked.map((r) => [`${r.layer},${r.head}`, r.rank]));
		const best = ranked.slice(0, opts.topK);
		const isBest = new Set(best.map((r) => `${r.layer},${r.head}`));

		const titleH = opts.title ? 20 : 0;
		const top = titleH + 30;
		const left = 46;
		const mlpX = left + H * cs + 10;
		const gridRight = mlp ? mlpX + cs : left + H * cs;
		const legendX = gridRight + 22;
		const legendLen = Math.max(L * cs, 90);
		const width = legendX + Math.max(10 + 4 + 48, textWidth(opts.scoreLabel) + 4);
		const height = top + legendLen + 10;
		sizeSvg(svg, width, height);
		const root = d3
			.select(svg)
			.attr('role', 'grid')
			.attr('aria-label', `${opts.title ?? 'Head scores'}: ${L} layers by ${H} heads${mlp ? ' and an MLP column' : ''}, ${opts.scoreLabel}`);
		if (opts.title) root.append('text').attr('x', 0).attr('y', 13).attr('font-weight', 600).attr('fill', 'currentColor').text(opts.title);

		const axes = root.append('g').attr('aria-hidden', 'true').attr('fill', 'currentColor');
		axes.append('text').attr('x', left).attr('y', titleH + 11).text('head');
		axes
			.selectAll('text.col')
			.data(d3.range(H))
			.join('text')
			.attr('class', 'col')
			.attr('x', (h) => left + h * cs + (cs - 2) / 2)
			.attr('y', top - 6)
			.attr('text-anchor', 'middle')
			.text(String);
		if (mlp) axes.append('text').attr('x', mlpX + (cs - 2) / 2).attr('y', top - 6).attr('text-anchor', 'middle').text('MLP');
		axes
			.append('text')
			.attr('transform', `translate(12,${top + (L * cs) / 2}) rotate(-90)`)
			.attr('text-anchor', 'middle')
			.text('layer');
		axes
			.selectAll('text.row')
			.data(d3.range(L))
			.join('text')
			.attr('class', 'row')
			.attr('x', left - 6)
			.attr('y', (l) => top + l * cs + (cs - 2) / 2)
			.attr('text-anchor', 'end')
			.attr('dominant-baseline', 'central')
			.text(String);

		const describe = (layer: number, head: number | null, score: number | null) => {
			const where = head == null ? `Layer ${layer}, MLP` : `Layer ${layer}, head ${head}`;
			const s = `${opts.scoreLabel} ${isScore(score) ? format(score) : 'not measured'}`;
			const r = head == null ? undefined : rankOf.get(`${layer},${head}`);
			return r ? [where, s, `rank ${r} of ${ranked.length}`] : [where, s];
		};
		const paint = <E extends d3.BaseType>(cells: d3.Selection<E, number | null, SVGGElement, unknown>) =>
			cells
				.attr('width', cs - 2)
				.attr('height', cs - 2)
				.attr('fill', (v) => (isScore(v) ? color(v) : 'none'))
				.attr('stroke', (v) => (isScore(v) ? null : 'currentColor'))
				.attr('stroke-opacity', (v) => (isScore(v) ? null : 0.35))
				.attr('stroke-dasharray', (v) => (isScore(v) ? null : '2 2'))
				.attr('role', 'gridcell')
				.attr('data-score', (v) => String(v ?? NaN));

		const rows = root
			.append('g')
			.selectAll('g')
			.data(data.heads)
			.join('g')
			.attr('role', 'row')
			.attr('aria-rowindex', (_, l) => l + 1);
		rows.each(function (scores, layer) {
			const row = d3.select(this as SVGGElement);
			paint(row.selectAll('rect.head').data(scores).join('rect'))
				.attr('class', 'head')
				.attr('data-testid', 'head-cell')
				.attr('data-layer', layer)
				.attr('data-head', (_, h) => h)
				.attr('data-rank', (_, h) => rankOf.get(`${layer},${h}`) ?? null)
				.attr('data-top-k', (_, h) => (isBest.has(`${layer},${h}`) ? '' : null))
				.attr('aria-selected', (_, h) => (opts.selected ? String(opts.selected.layer === layer && opts.selected.head === h) : null))
				.attr('x', (_, h) => left + h * cs)
				.attr('y', top + layer * cs)
				.attr('aria-label', (v, h) => describe(layer, h, v).join(', '));
			if (mlp)
				paint(row.selectAll('rect.mlp').data([mlp[layer] ?? null]).join('rect'))
					.attr('class', 'mlp')
					.attr('data-testid', 'mlp-cell')
					.attr('data-layer', layer)
					.attr('x', mlpX)
					.attr('y', top + layer * cs)
					.attr('aria-label', (v) => describe(layer, null, v).join(', '));
		});

		// top-k: outline straddling the cell edge, so half of it lies on the page background in the
		// gap between cells and shows whatever the fill; the rank number inside in a contrasting colour
		const marks = root.append('g').attr('aria-hidden', 'true').attr('pointer-events', 'none');
		marks
			.selectAll('rect')
			.data(best)
			.join('rect')
			.attr('data-testid', 'top-k-outline')
			.attr('x', (d) => left + d.head * cs)
			.attr('y', (d) => top + d.layer * cs)
			.attr('width', cs - 2)
			.attr('height', cs - 2)
			.attr('fill', 'none')
			.attr('stroke', 'currentColor')
			.attr('stroke-width', 2);
		marks
			.selectAll('text')
			.data(best)
			.join('text')
			.attr('x', (d) => left + d.head * cs + (cs - 2) / 2)
			.attr('y', (d) => top + d.layer * cs + (cs - 2) / 2)
			.attr('text-anchor', 'middle')
			.attr('dominant-baseline', 'central')
			.attr('font-size', Math.min(11, Math.round(cs * 0.45)))
			.attr('font-weight', 600)
			.attr('fill', (d) => textColorOn(color(d.score)))
			.text((d) => d.rank);
		if (opts.selected) {
			const { layer, head } = opts.selected;
			marks
				.append('rect')
				.attr('data-testid', 'selected-outline')
				.attr('x', left + head * cs - 2.5)
				.attr('y', top + layer * cs - 2.5)
				.attr('width', cs + 3)
				.attr('height', cs + 3)
				.attr('fill', 'none')
				.style('stroke', 'var(--viz-accent, currentColor)')
				.attr('stroke-width', 1.5)
				.attr('stroke-dasharray', '3 2');
		}

		const ticks = [-m, 0, m];
		colorRamp(root.append('g'), color, { x: legendX, y: top, length: legendLen, ticks, format, title: opts.scoreLabel });

		const tooltip = createTooltip(svg, () => ({ width, height }));
		grid = interactiveGrid(svg, tooltip, {
			selector: 'rect.head, rect.mlp',
			position: (c) => [Number(c.getAttribute('data-layer')), c.classList.contains('mlp') ? H : Number(c.getAttribute('data-head'))],
			box: rectBox,
			describe: (c) => {
				const layer = Number(c.getAttribute('data-layer'));
				const score = Number(c.getAttribute('data-score'));
				return c.classList.contains('mlp') ? describe(layer, null, score) : describe(layer, Number(c.getAttribute('data-head')), score);
			},
			onActivate: (c) => {
				const layer = Number(c.getAttribute('data-layer'));
				if (c.classList.contains('mlp')) opts.onSelectMlp?.(layer);
				else opts.onSelect?.(layer, Number(c.getAttribute('data-head')));
			}
		});
		if (keep) grid.focusAt(...keep);
	}

	draw(data);
	return figureHandle(svg, owned, draw, (o) => (opts = { ...opts, ...o }), () => grid?.destroy());
}
