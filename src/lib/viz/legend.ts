// Colour-ramp legend drawn as stepped rects (no gradient ids, so several figures share a page
// and exports stay self-contained).
import * as d3 from 'd3';

export interface RampOptions {
	x: number;
	y: number;
	/** length along the ramp and thickness across it, px */
	length: number;
	thickness?: number;
	orientation?: 'vertical' | 'horizontal';
	/** values to label (first and last are the ends of the ramp) */
	ticks: readonly number[];
	format?: (v: number) => string;
	title?: string;
	steps?: number;
}

/** Draw a ramp of `color` over [ticks[0], ticks.at(-1)]; vertical ramps put the largest value on top. */
export function colorRamp(
	parent: d3.Selection<SVGGElement, unknown, null, undefined>,
	color: (v: number) => string,
	o: RampOptions
): void {
	const { length, thickness = 10, orientation = 'vertical', ticks, steps = 32 } = o;
	const format = o.format ?? d3.format('~g');
	const lo = ticks[0];
	const hi = ticks[ticks.length - 1];
	const along = d3.scaleLinear().domain(orientation === 'vertical' ? [hi, lo] : [lo, hi]).range([0, length]);
	const g = parent.append('g').attr('aria-hidden', 'true').attr('transform', `translate(${o.x},${o.y})`);
	const stepLen = length / steps;
	const values = d3.range(steps).map((i) => lo + ((i + 0.5) / steps) * (hi - lo));
	const rect = g
		.selectAll('rect')
		.data(values)
		.join('rect')
		.attr('fill', (v) => color(v));
	const at = (v: number) => along(v) - stepLen / 2;
	if (orientation === 'vertical')
		rect.attr('x', 0).attr('y', (v) => +at(v).toFixed(2)).attr('width', thickness).attr('height', +(stepLen + 0.3).toFixed(2));
	else rect.attr('y', 0).attr('x', (v) => +at(v).toFixed(2)).attr('height', thickness).attr('width', +(stepLen + 0.3).toFixed(2));
	const labels = g.selectAll('text.tick').data(ticks).join('text').attr('class', 'tick').attr('fill', 'currentColor').text(format);
	if (orientation === 'vertical')
		labels.attr('x', thickness + 4).attr('y', (v) => along(v)).attr('dominant-baseline', 'middle');
	else labels.attr('y', thickness + 12).attr('x', (v) => along(v)).attr('text-anchor', 'middle');
	if (o.title)
		g.append('text')
			.attr('fill', 'currentColor')
			.attr('font-weight', 600)
			.attr('x', 0)
			.attr('y', orientation === 'vertical' ? -14 : -6)
			.text(o.title);
}
