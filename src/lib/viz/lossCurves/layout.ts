// Loss curves layout: legend items flowing left to right, margins, the step (x) and value (y)
// scales, and the min/max downsample of each series that the lines are drawn from.
import * as d3 from 'd3';
import { textWidth } from '../figure';
import type { LossCurvesData, LossCurvesOptions, LossPoint } from './index';

export interface LossCurvesLayout {
	legendItems: { name: string; x: number; y: number }[];
	margin: { top: number; right: number; bottom: number; left: number };
	/** every logged step of every series */
	steps: number[];
	x: d3.ScaleLinear<number, number>;
	y: d3.ScaleContinuousNumeric<number, number>;
	/** a value the y scale can place (finite; positive on a log axis) */
	shown: (v: number | null) => v is number;
}

export function lossCurvesLayout({ series }: LossCurvesData, opts: LossCurvesOptions): LossCurvesLayout {
	const { width, height, logY } = opts;
	const shown = (v: number | null): v is number => v != null && Number.isFinite(v) && (!logY || v > 0);

	// legend items flow left to right and wrap
	const legendItems: { name: string; x: number; y: number }[] = [];
	let lx = 0;
	let ly = opts.title ? 36 : 14;
	for (const s of series) {
		const w = 22 + textWidth(s.name) + 14;
		if (lx > 0 && lx + w > width) {
			lx = 0;
			ly += 16;
		}
		legendItems.push({ name: s.name, x: lx, y: ly });
		lx += w;
	}
	const margin = { top: ly + 14, right: 16, bottom: 38, left: 58 };
	const steps = series.flatMap((s) => s.points.map((p) => p.step));
	const values = series.flatMap((s) => s.points.map((p) => p.value)).filter(shown);
	const [s0, s1] = d3.extent(steps) as [number, number];
	const x = d3
		.scaleLinear()
		.domain(steps.length ? [s0, s1 === s0 ? s0 + 1 : s1] : [0, 1])
		.range([margin.left, width - margin.right]);
	const [v0, v1] = (d3.extent(values) as [number, number]).map((v) => v ?? (logY ? 1 : 0));
	const y = (logY ? d3.scaleLog().domain([v0, v1 === v0 ? v0 * 10 : v1]) : d3.scaleLinear().domain([Math.min(0, v0), v1 === v0 ? v0 + 1 : v1]))
		.range([height - margin.bottom, margin.top])
		.nice();
	return { legendItems, margin, steps, x, y, shown };
}

/** At most `maxPoints` points: the series is cut into equal buckets of steps, each keeping its
 * lowest and highest measured point, plus the first and last point, in step order. A bucket with
 * nothing measured keeps one null, so gaps at least a bucket wide stay gaps; narrower ones (a pixel
 * or so at the drawn width) are bridged. */
export function downsampleMinMax(points: readonly LossPoint[], maxPoints: number): LossPoint[] {
	if (points.length <= maxPoints) return [...points];
	const buckets = Math.max(1, Math.floor((maxPoints - 2) / 2));
	const keep = new Set([0, points.length - 1]);
	for (let b = 0; b < buckets; b++) {
		const lo = Math.floor((b * points.length) / buckets);
		const hi = Math.floor(((b + 1) * points.length) / buckets);
		const measured = d3.range(lo, hi).filter((i) => points[i].value != null);
		if (!measured.length) {
			keep.add(lo);
			continue;
		}
		keep.add(d3.least(measured, (i) => points[i].value!)!);
		keep.add(d3.greatest(measured, (i) => points[i].value!)!);
	}
	const out = [...keep].sort((a, b) => a - b).map((i) => points[i]);
	// one null is enough to break the line
	return out.filter((p, i) => p.value != null || out[i - 1]?.value != null);
}
