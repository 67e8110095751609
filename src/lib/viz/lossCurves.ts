// Line chart of per-step training series (total loss, loss per answer position, loss per subtask),
// with an optional log y axis, a legend and a hover/keyboard readout of every series at one step.
//
// Training logs hold a point per optimiser step (thousands); lines are drawn from a min/max
// downsample (the lowest and highest point of each bucket, in step order), which keeps spikes and
// the final value visible, while the readout always reads the full-resolution series.
import * as d3 from 'd3';
import type { TrainingLog, TrainingLogField } from '../core/model/trainingLog';
import { createTooltip } from './interaction';
import { seriesColor, seriesDash } from './palette';
import { SCREEN_ONLY, formatNumber, mountSvg, sizeSvg, textWidth, figureHandle, type FigureHandle, type Target } from './figure';

export interface LossPoint {
	step: number;
	/** null: not measured at this step (drawn as a gap) */
	value: number | null;
}

export interface LossSeries {
	name: string;
	points: readonly LossPoint[];
	color?: string;
}

export interface LossCurvesData {
	series: readonly LossSeries[];
}

export interface LossCurvesOptions {
	width: number;
	height: number;
	logY: boolean;
	/** most points drawn per series (the readout still uses all of them) */
	maxPoints: number;
	xLabel: string;
	yLabel: string;
	title?: string;
	format: (v: number) => string;
}

export const LOSS_CURVES_DEFAULTS: LossCurvesOptions = {
	width: 640,
	height: 300,
	logY: false,
	maxPoints: 600,
	xLabel: 'step',
	yLabel: 'loss',
	format: formatNumber
};

/** Series of one field of a training log: one series for scalars, one per answer position for
 * pos_* (position 0 = first answer token; for mul-2d's reversed answers that is the units digit),
 * one per subtask for subtask_loss. Steps lacking a scalar (heldout_exact is logged every 250
 * steps) are skipped, so sparse series connect; a null inside a vector field is a gap. */
export function trainingLogSeries(
	training: TrainingLog,
	field: TrainingLogField,
	positionName: (i: number) => string = (i) => `position ${i}`
): LossSeries[] {
	const log = training.log;
	if (field === 'pos_loss' || field === 'pos_acc') {
		const n = d3.max(log, (e) => e[field]?.length ?? 0) ?? 0;
		return d3.range(n).map((i) => ({ name: positionName(i), points: log.map((e) => ({ step: e.step, value: e[field]?.[i] ?? null })) }));
	}
	if (field === 'subtask_loss') {
		const names = training.subtasks ?? [...new Set(log.flatMap((e) => Object.keys(e.subtask_loss ?? {})))];
		return names.map((name) => ({ name, points: log.map((e) => ({ step: e.step, value: e.subtask_loss?.[name] ?? null })) }));
	}
	return [{ name: field, points: log.flatMap((e) => (e[field] == null ? [] : [{ step: e.step, value: e[field]! }])) }];
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

/** The point of `points` nearest to `step` (points sorted by step). */
function nearest(points: readonly LossPoint[], step: number): LossPoint | undefined {
	if (!points.length) return undefined;
	const i = d3.bisector((p: LossPoint) => p.step).center(points, step);
	return points[i];
}

export function lossCurves(target: Target, data: LossCurvesData, options: Partial<LossCurvesOptions> = {}): FigureHandle<LossCurvesData, LossCurvesOptions> {
	const { svg, owned } = mountSvg(target, 'loss-curves');
	let opts: LossCurvesOptions = { ...LOSS_CURVES_DEFAULTS, ...options };
	let cleanup = () => {};

	function draw({ series }: LossCurvesData) {
		cleanup();
		svg.replaceChildren();
		const { width, height, logY, format } = opts;
		sizeSvg(svg, width, height);
		const colors = series.map((s, i) => s.color ?? seriesColor(s.name, i));
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

		const root = d3
			.select(svg)
			.attr('role', 'group')
			.attr('aria-label', `${opts.title ?? 'Training curves'}: ${series.map((s) => s.name).join(', ')} against ${opts.xLabel}`);
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
			.call(d3.axisBottom(x).ticks(Math.max(2, Math.round(width / 90)), '~s'))
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

		// readout: rule + dots + tooltip at the nearest logged step, driven by mouse or keyboard
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
		const tooltip = createTooltip(svg, () => ({ width, height }));
		let index = -1;

		const readout = (step: number) =>
			series.map((s) => {
				const p = nearest(s.points, step);
				return { name: s.name, value: p && p.step === step ? p.value : null };
			});
		function showAt(i: number) {
			if (!allSteps.length) return;
			index = Math.max(0, Math.min(allSteps.length - 1, i));
			const step = allSteps[index];
			const vals = readout(step);
			const sx = x(step);
			rule.attr('visibility', 'visible').select('line').attr('x1', sx).attr('x2', sx);
			dots.attr('cx', sx)
				.attr('cy', (_, k) => (shown(vals[k].value) ? y(vals[k].value!) : -10))
				.attr('visibility', (_, k) => (shown(vals[k].value) ? null : 'hidden'));
			const lines = [`${opts.xLabel} ${step}`, ...vals.map((v) => `${v.name}: ${v.value == null ? '—' : format(v.value)}`)];
			tooltip.show(lines, { x: sx, y: margin.top, width: 0, height: 0 });
			overlay.attr('aria-valuenow', step).attr('aria-valuetext', lines.join(', '));
		}
		function hide() {
			rule.attr('visibility', 'hidden');
			tooltip.hide();
		}
		const stepIndex = (step: number) => d3.bisector((s: number) => s).center(allSteps, step);
		overlay
			.on('mousemove', (e: MouseEvent) => showAt(stepIndex(x.invert(d3.pointer(e, svg)[0]))))
			.on('mouseleave', () => (svg.ownerDocument.activeElement === overlay.node() ? showAt(index) : hide()))
			.on('focus', () => showAt(index < 0 ? allSteps.length - 1 : index))
			.on('blur', hide)
			.on('keydown', (e: KeyboardEvent) => {
				const page = Math.max(1, Math.round(allSteps.length / 20));
				const moves: Record<string, number> = {
					ArrowRight: index + 1,
					ArrowUp: index + 1,
					ArrowLeft: index - 1,
					ArrowDown: index - 1,
					PageUp: index + page,
					PageDown: index - page,
					Home: 0,
					End: allSteps.length - 1
				};
				if (!(e.key in moves)) return;
				e.preventDefault();
				showAt(moves[e.key]);
			});
		cleanup = () => overlay.on('mousemove mouseleave focus blur keydown', null);
	}

	draw(data);
	return figureHandle(svg, owned, draw, (o) => (opts = { ...opts, ...o }), () => cleanup());
}
