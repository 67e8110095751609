// Head map axes: the title, head numbers above the columns (and "MLP"), layer numbers beside the
// rows, and the colour legend of the score.
import * as d3 from 'd3';
import { colorRamp } from '../legend';
import type { HeadMapOptions } from './index';
import type { HeadMapLayout } from './layout';

type Root = d3.Selection<SVGSVGElement, unknown, null, undefined>;

export function headMapAxes(root: Root, lay: HeadMapLayout, opts: HeadMapOptions, hasMlp: boolean): void {
	const { L, H, cs, titleH, top, left, mlpX } = lay;
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
	if (hasMlp) axes.append('text').attr('x', mlpX + (cs - 2) / 2).attr('y', top - 6).attr('text-anchor', 'middle').text('MLP');
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
}

export function headMapLegend(root: Root, lay: HeadMapLayout, opts: HeadMapOptions): void {
	const { m, color, legendX, top, legendLen } = lay;
	colorRamp(root.append('g'), color, { x: legendX, y: top, length: legendLen, ticks: [-m, 0, m], format: opts.format, title: opts.scoreLabel });
}
