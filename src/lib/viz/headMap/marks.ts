// Head map marks: one cell per head (and per MLP layer) coloured by score, the top-k outlines with
// their rank numbers, and the selected head's dashed ring.
import * as d3 from 'd3';
import { textColorOn } from '../figure';
import type { HeadMapData, HeadMapOptions } from './index';
import { cellKey, isScore, type HeadMapLayout } from './layout';

type Root = d3.Selection<SVGSVGElement, unknown, null, undefined>;
/** The tooltip lines of a cell (head null: the MLP). */
export type Describe = (layer: number, head: number | null, score: number | null) => string[];

export function headMapCells(root: Root, data: HeadMapData, lay: HeadMapLayout, opts: HeadMapOptions, describe: Describe): void {
	const { cs, top, left, mlpX, color, rankOf, isBest } = lay;
	const mlp = data.mlp;
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
			.attr('data-testid', `${opts.testIdPrefix}head-cell`)
			.attr('data-layer', layer)
			.attr('data-head', (_, h) => h)
			.attr('data-rank', (_, h) => rankOf.get(cellKey(layer, h)) ?? null)
			.attr('data-top-k', (_, h) => (isBest.has(cellKey(layer, h)) ? '' : null))
			.attr('aria-selected', (_, h) => (opts.selected ? String(opts.selected.layer === layer && opts.selected.head === h) : null))
			.attr('x', (_, h) => left + h * cs)
			.attr('y', top + layer * cs)
			.attr('aria-label', (v, h) => describe(layer, h, v).join(', '));
		if (mlp)
			paint(row.selectAll('rect.mlp').data([mlp[layer] ?? null]).join('rect'))
				.attr('class', 'mlp')
				.attr('data-testid', `${opts.testIdPrefix}mlp-cell`)
				.attr('data-layer', layer)
				.attr('x', mlpX)
				.attr('y', top + layer * cs)
				.attr('aria-label', (v) => describe(layer, null, v).join(', '));
	});
}

/** Top-k: an outline straddling the cell edge, so half of it lies on the page background in the
 * gap between cells and shows whatever the fill; the rank number inside in a contrasting colour. */
export function headMapHighlights(root: Root, lay: HeadMapLayout, opts: HeadMapOptions): void {
	const { cs, top, left, color, best } = lay;
	const marks = root.append('g').attr('aria-hidden', 'true').attr('pointer-events', 'none');
	marks
		.selectAll('rect')
		.data(best)
		.join('rect')
		.attr('data-testid', `${opts.testIdPrefix}top-k-outline`)
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
			.attr('data-testid', `${opts.testIdPrefix}selected-outline`)
			.attr('x', left + head * cs - 2.5)
			.attr('y', top + layer * cs - 2.5)
			.attr('width', cs + 3)
			.attr('height', cs + 3)
			.attr('fill', 'none')
			.style('stroke', 'var(--viz-accent, currentColor)')
			.attr('stroke-width', 1.5)
			.attr('stroke-dasharray', '3 2');
	}
}
