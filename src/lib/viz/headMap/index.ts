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
//
// Parts, like Plot's marks: layout.ts (sizes, colour scale, ranks), axes.ts (labels, legend),
// marks.ts (cells, top-k outlines, selection); this file puts them together and wires the keyboard.
import * as d3 from 'd3';
import type { HeadRef } from '../../core/model/spec';
import { createTooltip, interactiveGrid, rectBox, type Grid } from '../interaction';
import { formatNumber, mountSvg, sizeSvg, figureHandle, type FigureHandle, type Target } from '../figure';
import { headMapAxes, headMapLegend } from './axes';
import { cellKey, headMapLayout, isScore } from './layout';
import { headMapCells, headMapHighlights, type Describe } from './marks';

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
	selected?: HeadRef | null;
	format: (v: number) => string;
	onSelect?: (layer: number, head: number) => void;
	onSelectMlp?: (layer: number) => void;
	/** Put in front of the figure's test ids (`head-map`, `head-cell`, …) so two maps on one page stay apart. */
	testIdPrefix: string;
}

const HEAD_MAP_DEFAULTS: HeadMapOptions = {
	cellSize: 24,
	topK: 5,
	interpolator: d3.interpolateRdBu,
	scoreLabel: 'score',
	format: formatNumber,
	testIdPrefix: ''
};

export function headMap(target: Target, data: HeadMapData, options: Partial<HeadMapOptions> = {}): FigureHandle<HeadMapData, HeadMapOptions> {
	const { svg, owned } = mountSvg(target, `${options.testIdPrefix ?? ''}head-map`);
	let opts: HeadMapOptions = { ...HEAD_MAP_DEFAULTS, ...options };
	let grid: Grid | null = null;

	function draw(data: HeadMapData) {
		const keep = grid?.focused() ?? null;
		grid?.destroy();
		svg.replaceChildren();
		const lay = headMapLayout(data, opts);
		const { L, H, width, height, ranked, rankOf } = lay;
		const mlp = data.mlp;
		const { format } = opts;
		sizeSvg(svg, width, height);
		const root = d3
			.select(svg)
			.attr('role', 'grid')
			.attr('aria-label', `${opts.title ?? 'Head scores'}: ${L} layers by ${H} heads${mlp ? ' and an MLP column' : ''}, ${opts.scoreLabel}`);

		const describe: Describe = (layer, head, score) => {
			const where = head == null ? `Layer ${layer}, MLP` : `Layer ${layer}, head ${head}`;
			const s = `${opts.scoreLabel} ${isScore(score) ? format(score) : 'not measured'}`;
			const r = head == null ? undefined : rankOf.get(cellKey(layer, head));
			return r ? [where, s, `rank ${r} of ${ranked.length}`] : [where, s];
		};
		headMapAxes(root, lay, opts, !!mlp);
		headMapCells(root, data, lay, opts, describe);
		headMapHighlights(root, lay, opts);
		headMapLegend(root, lay, opts);

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
