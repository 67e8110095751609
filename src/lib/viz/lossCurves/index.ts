// Line chart of per-step training series (total loss, loss per answer position, loss per subtask),
// with an optional log y axis, a legend and a hover/keyboard readout of every series at one step.
//
// Training logs hold a point per optimiser step (thousands); lines are drawn from a min/max
// downsample (the lowest and highest point of each bucket, in step order), which keeps spikes and
// the final value visible, while the readout always reads the full-resolution series.
//
// Parts, like Plot's marks: layout.ts (legend flow, scales, downsample), axes.ts (title, legend,
// axes), marks.ts (lines, readout marks); this file puts them together and wires the readout.
import * as d3 from 'd3';
import type { TrainingLog, TrainingLogField } from '../../core/model/trainingLog';
import { createTooltip } from '../interaction';
import { seriesColor } from '../palette';
import { formatNumber, mountSvg, sizeSvg, figureHandle, type FigureHandle, type Target } from '../figure';
import { lossCurvesAxes } from './axes';
import { lossCurvesLayout } from './layout';
import { lossLines, readoutMarks } from './marks';

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

const LOSS_CURVES_DEFAULTS: LossCurvesOptions = {
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
		const { width, height, format } = opts;
		sizeSvg(svg, width, height);
		const colors = series.map((s, i) => s.color ?? seriesColor(s.name, i));
		const lay = lossCurvesLayout({ series }, opts);
		const { margin, x, y, shown } = lay;

		const root = d3
			.select(svg)
			.attr('role', 'group')
			.attr('aria-label', `${opts.title ?? 'Training curves'}: ${series.map((s) => s.name).join(', ')} against ${opts.xLabel}`);
		lossCurvesAxes(root, lay, opts, colors);
		lossLines(root, series, lay, opts, colors);

		// readout: rule + dots + tooltip at the nearest logged step, driven by mouse or keyboard
		const { allSteps, rule, dots, overlay } = readoutMarks(root, series, lay, opts, colors);
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
