// The neuron lens's Fourier summary (DESIGN §10) against a direct complex DFT and known spectra.
import { describe, expect, it } from 'vitest';
import { otsuThreshold, spectrum, summarize } from '../../src/lib/core/experiments/fourier';

/** |DFT2(A − mean)| the slow, obvious way. */
function naive(A: number[], p: number): number[] {
	const mean = A.reduce((a, b) => a + b, 0) / A.length;
	const out: number[] = [];
	for (let ka = 0; ka < p; ka++)
		for (let kb = 0; kb < p; kb++) {
			let [re, im] = [0, 0];
			for (let a = 0; a < p; a++)
				for (let b = 0; b < p; b++) {
					const t = (-2 * Math.PI * (ka * a + kb * b)) / p;
					re += (A[a * p + b] - mean) * Math.cos(t);
					im += (A[a * p + b] - mean) * Math.sin(t);
				}
			out.push(Math.hypot(re, im));
		}
	return out;
}

function seeded(n: number, seed: number): number[] {
	let s = seed >>> 0;
	return Array.from({ length: n }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1);
}

describe('spectrum', () => {
	it.each([7, 8, 13])('equals a direct DFT on a random %i × %i grid', (p) => {
		const A = seeded(p * p, p);
		const got = spectrum(A, p);
		naive(A, p).forEach((v, i) => expect(got[i]).toBeCloseTo(v, 9));
	});

	it('a pure wave cos(2π·3(a+b)/97) is one frequency pair: IPR 0.5 (r = 2), freq (3, 3), all the power', () => {
		const p = 97;
		const A = Array.from({ length: p * p }, (_, i) => Math.cos((2 * Math.PI * 3 * (Math.floor(i / p) + (i % p))) / p));
		const s = summarize(spectrum(A, p), p);
		expect(s.ipr).toBeCloseTo(0.5, 10);
		expect(s.freq).toEqual([3, 3]);
		expect(s.powerShare).toBeCloseTo(1, 10);
		expect(summarize(spectrum(A, p), p, 1).ipr).toBeCloseTo(1, 10); // r = 1: Σ shares = 1 always
	});

	it('white noise spreads its power: IPR near 2/p² and a small share for the largest pair', () => {
		const p = 31;
		const s = summarize(spectrum(seeded(p * p, 5), p), p);
		expect(s.ipr).toBeLessThan(5 / (p * p));
		expect(s.powerShare).toBeLessThan(0.05);
	});

	it('a constant grid (a dead neuron) has no IPR', () => {
		const s = summarize(spectrum(new Array(49).fill(2), 7), 7);
		expect(s.ipr).toBeNaN();
	});

	it('refuses a grid of the wrong size', () => {
		expect(() => spectrum([1, 2, 3], 2)).toThrow(/3 values, not 2 × 2/);
	});
});

describe('otsuThreshold', () => {
	it('splits two clusters of log IPR between them, ignoring dead neurons', () => {
		const low = [0.001, 0.0012, 0.0009, 0.0011];
		const high = [0.3, 0.25, 0.4];
		const chi = otsuThreshold([...low, NaN, ...high]);
		expect(chi).toBeGreaterThan(0.0012);
		expect(chi).toBeLessThan(0.25);
		expect(chi).toBeCloseTo(10 ** ((Math.log10(0.0012) + Math.log10(0.25)) / 2), 12);
	});

	it('is NaN with fewer than two neurons', () => {
		expect(otsuThreshold([NaN, 0.2])).toBeNaN();
	});
});
