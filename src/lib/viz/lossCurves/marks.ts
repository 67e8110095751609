// Loss curves marks: one line per series (drawn from its min/max downsample, gaps where a value is
// missing), and the readout's rule, dots and focusable overlay, hidden until a step is read.
import * as d3 from 'd3';
import { SCREEN_ONLY } from '../figure';
import { seriesDash } from '../palette';
import type { LossCurvesOptions, LossPoint, LossSeries } from './index';
import { downsampleMinMax, type LossCurvesLayout } from './layout';

type Root = d3.Selection<SVGSVGElement, unknown, null, undefined>;

export function lossLines(root: Root, series: readonly LossSeries[], lay: LossCurvesLayout, opts: LossCurvesOptions, colors: readonly string[]): void {
	const { x, y, shown } = lay;
	const line = d3
		.line<LossPoint>()
		.defined((p) => shown(p.value))
		.x((p) => +x(p.step).toFixed(1))
		.y((p) => +y(p.value!).toFixed(1));
	root
		.append('g')
		.attr('fill', 'none')
		.attr('stroke-width', 1.6)
		.attr('stroke-linejoin', 'round')
		.selectAll('path')
		.data(series)
		.join('path')
		.attr('data-testid', 'loss-line')
		.attr('data-series', (s) => s.name)
		.attr('stroke', (_, i) => colors[i])
		.attr('stroke-dasharray', (_, i) => seriesDash(i))
		.attr('d', (s) => line(downsampleMinMax(s.points, opts.maxPoints)));
}

export interface ReadoutMarks {
	/** distinct logged steps, ascending: the positions the readout moves through */
	allSteps: number[];
	rule: d3.Selection<SVGGElement, unknown, null, undefined>;
	dots: d3.Selection<d3.BaseType | SVGCircleElement, LossSeries, SVGGElement, unknown>;
	overlay: d3.Selection<SVGRectElement, unknown, null, undefined>;
}

export function readoutMarks(root: Root, series: readonly LossSeries[], lay: LossCurvesLayout, opts: LossCurvesOptions, colors: readonly string[]): ReadoutMarks {
	const { width, height } = opts;
	const { margin, steps } = lay;
	const allSteps = [...new Set(steps)].sort((a, b) => a - b);
	const rule = root.append('g').attr(SCREEN_ONLY, '').attr('pointer-events', 'none').attr('visibility', 'hidden');
	rule.append('line').attr('y1', margin.top).attr('y2', height - margin.bottom).attr('stroke', 'currentColor').attr('stroke-opacity', 0.5);
	const dots = rule
		.selectAll('circle')
		.data(series)
		.join('circle')
		.attr('r', 3.5)
		.attr('fill', (_, i) => colors[i])
		.style('stroke', 'var(--viz-bg, Canvas)');
	const overlay = root
		.append('rect')
		.attr('data-testid', 'loss-readout')
		.attr('x', margin.left)
		.attr('y', margin.top)
		.attr('width', width - margin.left - margin.right)
		.attr('height', height - margin.top - margin.bottom)
		.attr('fill', 'none')
		.attr('pointer-events', 'all')
		.attr('tabindex', 0)
		.attr('role', 'slider')
		.attr('aria-label', `Read values at a ${opts.xLabel}`)
		.attr('aria-valuemin', allSteps[0] ?? 0)
		.attr('aria-valuemax', allSteps.at(-1) ?? 0);
	return { allSteps, rule, dots, overlay };
}
