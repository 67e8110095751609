// @vitest-environment jsdom
import { describe, expect, it } from 'vitest';
import type { TrainingLog } from '../../src/lib/core/model/trainingLog';
import { lossCurves, trainingLogSeries } from '../../src/lib/viz/lossCurves';
import { downsampleMinMax } from '../../src/lib/viz/lossCurves/layout';
import { fresh, key, prettySvg, seeded } from './helpers';

/** A training_log.json-shaped log (models/train/train.py): decaying losses with seeded noise,
 * position 3 unmeasured for the first 10 steps (null), held-out exact match every 250 steps. */
function makeLog(steps: number): TrainingLog {
	const noise = seeded(3, -0.1, 0.1);
	const r = (v: number) => Number(v.toFixed(4));
	return {
		subtasks: ['BM', 'CM', 'Carry', 'UC', 'US10'],
		log: Array.from({ length: steps }, (_, i) => {
			const step = i + 1;
			const base = 2.5 * Math.exp(-step / (steps / 6)) + 0.02;
			return {
				step,
				loss: r(base * (1 + noise())),
				exact: r(Math.min(1, step / steps)),
				pos_loss: [0.5, 1, 1.5, 2].map((f, p) => (p === 3 && step <= 10 ? null : r(base * f * (1 + noise())))),
				subtask_loss: { BM: r(base * 0.5), CM: r(base), Carry: r(base * 0.3), UC: r(base * 1.2), US10: step % 7 ? r(base * 2) : null },
				...(step % 250 === 0 ? { heldout_exact: r(step / steps) } : {})
			};
		})
	};
}

const vertices = (d: string) => (d.match(/[ML]/g) ?? []).length;

describe('trainingLogSeries', () => {
	const log = makeLog(1000);
	it('turns log fields into named series, with gaps for nulls and sparse scalars skipped', () => {
		const [loss] = trainingLogSeries(log, 'loss');
		expect(loss.name).toBe('loss');
		expect(loss.points).toHaveLength(1000);
		expect(loss.points[41]).toEqual({ step: 42, value: log.log[41].loss });
		const pos = trainingLogSeries(log, 'pos_loss', (i) => `digit ${i}`);
		expect(pos.map((s) => s.name)).toEqual(['digit 0', 'digit 1', 'digit 2', 'digit 3']);
		expect(pos[3].points.slice(8, 12).map((p) => p.value === null)).toEqual([true, true, false, false]);
		expect(trainingLogSeries(log, 'subtask_loss').map((s) => s.name)).toEqual(['BM', 'CM', 'Carry', 'UC', 'US10']);
		expect(trainingLogSeries(log, 'heldout_exact')[0].points.map((p) => p.step)).toEqual([250, 500, 750, 1000]);
	});
});

describe('downsampleMinMax', () => {
	it('keeps first, last, the global min and max, within the point budget, in step order', () => {
		const [loss] = trainingLogSeries(makeLog(5000), 'loss');
		const vals = loss.points.map((p) => p.value!);
		const out = downsampleMinMax(loss.points, 300);
		expect(out.length).toBeLessThanOrEqual(300);
		expect(out.length).toBeGreaterThan(200);
		expect(out[0]).toBe(loss.points[0]);
		expect(out.at(-1)).toBe(loss.points.at(-1));
		expect(out.map((p) => p.value)).toContain(Math.min(...vals));
		expect(out.map((p) => p.value)).toContain(Math.max(...vals));
		expect(out.every((p, i) => i === 0 || p.step > out[i - 1].step)).toBe(true);
	});

	it('keeps a gap where the series is unmeasured', () => {
		const points = Array.from({ length: 2000 }, (_, i) => ({ step: i, value: i >= 900 && i < 1100 ? null : Math.sin(i / 50) }));
		const out = downsampleMinMax(points, 200);
		const gaps = out.filter((p) => p.value === null);
		expect(gaps).toHaveLength(1);
		expect(gaps[0].step).toBeGreaterThan(899);
		expect(gaps[0].step).toBeLessThan(1100);
	});
});

describe('lossCurves', () => {
	it('draws one downsampled line per series with a legend', async () => {
		const log = makeLog(400);
		const series = trainingLogSeries(log, 'subtask_loss');
		const { svg } = lossCurves(fresh(), { series }, { maxPoints: 80, logY: true, title: 'Loss per subtask', width: 520, height: 260 });
		expect(svg.getAttribute('data-testid')).toBe('loss-curves');
		const lines = Array.from(svg.querySelectorAll('[data-testid="loss-line"]'));
		expect(lines.map((l) => l.getAttribute('data-series'))).toEqual(['BM', 'CM', 'Carry', 'UC', 'US10']);
		for (const l of lines) expect(vertices(l.getAttribute('d')!)).toBeLessThanOrEqual(80);
		// subtask series wear their subtask colour (same as the subtask diagram)
		expect(lines[0].getAttribute('stroke')).toBe('#56B4E9');
		expect(Array.from(svg.querySelectorAll('[data-testid="loss-legend"] text')).map((t) => t.textContent)).toEqual(['BM', 'CM', 'Carry', 'UC', 'US10']);
		await expect(prettySvg(svg)).toMatchFileSnapshot('./__snapshots__/lossCurves.svg');
	});

	it('reads every series at one step from the keyboard, at full resolution', () => {
		const log = makeLog(3000);
		const series = trainingLogSeries(log, 'pos_loss');
		const { svg } = lossCurves(fresh(), { series }, { maxPoints: 100 });
		const slider = svg.querySelector('[data-testid="loss-readout"]') as SVGElement;
		const tip = () => Array.from(svg.querySelectorAll('tspan')).map((t) => t.textContent);
		slider.focus();
		expect(slider.getAttribute('aria-valuenow')).toBe('3000');
		key(slider, 'Home');
		expect(tip()).toEqual(['step 1', 'position 0: ' + fmt(log.log[0].pos_loss![0]!), 'position 1: ' + fmt(log.log[0].pos_loss![1]!), 'position 2: ' + fmt(log.log[0].pos_loss![2]!), 'position 3: —']);
		for (let i = 0; i < 12; i++) key(slider, 'ArrowRight');
		// step 13 is between drawn points; the readout still gives its exact logged values
		expect(slider.getAttribute('aria-valuenow')).toBe('13');
		expect(tip()[4]).toBe('position 3: ' + fmt(log.log[12].pos_loss![3]!));
	});
});

function fmt(v: number): string {
	return new Intl.NumberFormat('en', { maximumSignificantDigits: 3 }).format(v).replace('-', '−');
}
