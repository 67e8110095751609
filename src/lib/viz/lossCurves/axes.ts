// Loss curves axes: the title, the series legend (colour and dash per series), the step axis
// below and the value axis on the left (log scale when asked).
import * as d3 from 'd3';
import { seriesDash } from '../palette';
import type { LossCurvesOptions } from './index';
import type { LossCurvesLayout } from './layout';

type Root = d3.Selection<SVGSVGElement, unknown, null, undefined>;

export function lossCurvesAxes(root: Root, lay: LossCurvesLayout, opts: LossCurvesOptions, colors: readonly string[]): void {
	const { width, height, logY } = opts;
	const { legendItems, margin, x, y } = lay;
	if (opts.title) root.append('text').attr('y', 14).attr('font-weight', 600).attr('fill', 'currentColor').text(opts.title);

	const legend = root.append('g').attr('data-testid', 'loss-legend').attr('aria-hidden', 'true');
	const item = legend
		.selectAll('g')
		.data(legendItems)
		.join('g')
		.attr('transform', (d) => `translate(${d.x},${d.y})`);
	item
		.append('line')
		.attr('x2', 18)
		.attr('y1', -4)
		.attr('y2', -4)
		.attr('stroke', (_, i) => colors[i])
		.attr('stroke-width', 2.5)
		.attr('stroke-dasharray', (_, i) => seriesDash(i));
	item
		.append('text')
		.attr('x', 22)
		.attr('fill', 'currentColor')
		.text((d) => d.name);

	const ticksY = Math.max(2, Math.round((height - margin.top - margin.bottom) / 45));
	root
		.append('g')
		.attr('aria-hidden', 'true')
		.attr('transform', `translate(0,${height - margin.bottom})`)
		// x is a count (steps, layers, neurons pruned): only whole ticks, never a half layer
		.call(d3.axisBottom(x).tickValues(x.ticks(Math.max(2, Math.round(width / 90))).filter(Number.isInteger)).tickFormat(d3.format('~s')))
		.call((g) => g.append('text').attr('x', width - margin.right).attr('y', 32).attr('text-anchor', 'end').attr('fill', 'currentColor').text(opts.xLabel));
	root
		.append('g')
		.attr('aria-hidden', 'true')
		.attr('transform', `translate(${margin.left},0)`)
		.call(d3.axisLeft(y).ticks(ticksY, '~g'))
		.call((g) =>
			g
				.append('text')
				.attr('transform', `translate(${-margin.left + 12},${margin.top}) rotate(-90)`)
				.attr('text-anchor', 'end')
				.attr('fill', 'currentColor')
				.text(opts.yLabel + (logY ? ' (log scale)' : ''))
		);
}
