// @vitest-environment jsdom
// The Neurons panel's figures: the p × p map draws one cell per pair in row-major order on a
// symmetric (activations) or 0..max (spectrum) scale, for any p; the IPR histogram bins log10 IPR,
// colours the bins below χ, leaves dead neurons out, and reports χ only when the handle is released
// (here: moved with the keyboard).
import * as d3 from 'd3';
import { describe, expect, it } from 'vitest';
import { iprHistogram } from '../../src/lib/viz/iprHistogram';
import { LOG_DECADES, neuronGrid } from '../../src/lib/viz/neuronGrid';
import { fresh } from './helpers';

const cells = (svg: SVGSVGElement) => Array.from(svg.querySelectorAll('g[shape-rendering] rect'));

describe('neuronGrid', () => {
	it('draws p² cells row-major on a symmetric scale, for an odd p', () => {
		const p = 5;
		const values = Float32Array.from({ length: p * p }, (_, i) => (i === 7 ? -2 : i === 18 ? 2 : 0));
		const { svg } = neuronGrid(fresh(), { p, values }, { diverging: true, interpolator: d3.interpolateRdBu, testId: 'g' });
		const rects = cells(svg);
		expect(rects).toHaveLength(25);
		expect(svg.getAttribute('data-p')).toBe('5');
		expect([svg.getAttribute('data-min'), svg.getAttribute('data-max')]).toEqual(['-2', '2']);
		// a = 1, b = 2 is value index 7: the lowest end of the ramp; a = 3, b = 3 the highest; 0 the middle
		expect(rects[7].getAttribute('fill')).toBe(d3.interpolateRdBu(0));
		expect(rects[18].getAttribute('fill')).toBe(d3.interpolateRdBu(1));
		expect(rects[0].getAttribute('fill')).toBe(d3.interpolateRdBu(0.5));
		expect([rects[7].getAttribute('x'), rects[7].getAttribute('y')]).toEqual(['120.00', '60.00']); // 300 px / 5 per cell
	});

	it('scales magnitudes from 0 and redraws for another p', () => {
		const h = neuronGrid(fresh(), { p: 3, values: [0, 1, 2, 3, 4, 5, 6, 7, 8] }, { interpolator: d3.interpolateBlues });
		expect(cells(h.svg)[8].getAttribute('fill')).toBe(d3.interpolateBlues(1));
		expect(cells(h.svg)[0].getAttribute('fill')).toBe(d3.interpolateBlues(0));
		h.update({ p: 97, values: new Float32Array(97 * 97).fill(1) });
		expect(cells(h.svg)).toHaveLength(9409);
	});

	it('on the log scale colours by log10 over LOG_DECADES decades below the largest, the readout keeping the values', () => {
		const values = [0, 1e-9, 1e-3, 10 ** -1.5, 1, 0.5, 0.5, 0.5, 0.5]; // largest 1: the scale spans 1e-3..1
		const { svg } = neuronGrid(fresh(), { p: 3, values }, { interpolator: d3.interpolateBlues, log: true });
		expect(LOG_DECADES).toBe(3);
		expect(svg.getAttribute('data-scale')).toBe('log');
		expect([svg.getAttribute('data-min'), svg.getAttribute('data-max')]).toEqual(['0', '1']);
		const fill = cells(svg).map((c) => c.getAttribute('fill'));
		expect(fill.slice(0, 5)).toEqual([0, 0, 0, 0.5, 1].map((t) => d3.interpolateBlues(t)));
		expect(fill[5]).toBe(d3.interpolateBlues((Math.log10(0.5) + 3) / 3));
		// a diverging map (activations) ignores it; so does an all-zero spectrum
		expect(neuronGrid(fresh(), { p: 3, values }, { log: true, diverging: true }).svg.getAttribute('data-scale')).toBe('linear');
		expect(neuronGrid(fresh(), { p: 3, values: new Float32Array(9) }, { log: true }).svg.getAttribute('data-scale')).toBe('linear');
	});
});

describe('iprHistogram', () => {
	const iprs = [1e-4, 2e-4, 1e-3, 0.01, 0.02, 0.5, NaN];

	it('bins the live neurons by log IPR and colours those below χ', () => {
		const { svg } = iprHistogram(fresh(), { iprs, threshold: 0.005 }, { bins: 16 });
		expect(svg.getAttribute('data-n')).toBe('6');
		const bars = Array.from(svg.querySelectorAll('rect[data-count]'));
		expect(bars.reduce((a, b) => a + Number(b.getAttribute('data-count')), 0)).toBe(6);
		const below = bars.filter((b) => b.getAttribute('fill') === '#d6604d').reduce((a, b) => a + Number(b.getAttribute('data-count')), 0);
		expect(below).toBe(3);
		expect(svg.querySelector('[data-testid="ipr-threshold"]')!.getAttribute('data-value')).toBe('0.005');
	});

	it('reports χ once per keyboard move, and the handle follows', () => {
		const chosen: number[] = [];
		const { svg } = iprHistogram(fresh(), { iprs, threshold: 0.005 }, { onThreshold: (v) => chosen.push(v) });
		const handle = svg.querySelector('[data-testid="ipr-threshold-handle"]')!;
		handle.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowRight', bubbles: true }));
		expect(chosen).toHaveLength(1);
		// the axis runs over whole quarter decades, log10 1e-4 = −4 to −0.25 (0.5 ≈ 10^−0.3): a step is 3.75 / 50
		expect(Math.log10(chosen[0]) - Math.log10(0.005)).toBeCloseTo(0.075, 10);
		expect(svg.querySelector('[data-testid="ipr-threshold"] text')!.textContent).toBe(`χ = ${d3.format('.3~r')(chosen[0])}`);
	});
});
