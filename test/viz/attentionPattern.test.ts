// @vitest-environment jsdom
import { interpolateBlues } from 'd3';
import { describe, expect, it } from 'vitest';
import { attentionPattern } from '../../src/lib/viz/attentionPattern';
import { fresh, key, prettySvg, seeded } from './helpers';

const tokens = ['<bos>', '1', '2', '*', '3', '4', '=', '8'];
const T = tokens.length;
const rand = seeded(11, 0, 1);
// a causal softmax-like pattern: row q spreads over keys 0..q and sums to ~1 (rounded to 3 decimals)
const pattern = tokens.map((_, q) => {
	const raw = Array.from({ length: q + 1 }, () => rand() ** 3 + 0.001);
	const sum = raw.reduce((a, b) => a + b, 0);
	return Array.from({ length: T }, (_, k) => (k <= q ? Number((raw[k] / sum).toFixed(3)) : 0));
});
const cells = (root: Element) => Array.from(root.querySelectorAll('[data-testid="attention-cell"]'));
const cell = (root: Element, q: number, k: number) => root.querySelector(`[data-testid="attention-cell"][data-query="${q}"][data-key="${k}"]`)!;

describe('attentionPattern', () => {
	it('draws the lower triangle only, with the exact weights on a 0..1 Blues scale', async () => {
		const { svg } = attentionPattern(fresh(), { tokens, pattern }, { title: 'L1 H2' });
		expect(svg.getAttribute('data-testid')).toBe('attention-pattern');
		const all = cells(svg);
		expect(all).toHaveLength((T * (T + 1)) / 2);
		for (const c of all) {
			const q = Number(c.getAttribute('data-query'));
			const k = Number(c.getAttribute('data-key'));
			expect(k).toBeLessThanOrEqual(q);
			expect(Number(c.getAttribute('data-weight'))).toBe(pattern[q][k]);
			expect(c.getAttribute('fill')).toBe(interpolateBlues(pattern[q][k]));
		}
		await expect(prettySvg(svg)).toMatchFileSnapshot('./__snapshots__/attentionPattern.svg');
	});

	it('labels query rows and key columns with the token strings', () => {
		const { svg } = attentionPattern(fresh(), { tokens, pattern });
		const text = (sel: string) => Array.from(svg.querySelectorAll(sel)).map((t) => t.textContent);
		expect(text('text.query')).toEqual(tokens);
		expect(text('text.key')).toEqual(tokens);
	});

	it('draws the full square when not causal', () => {
		const full = tokens.map(() => tokens.map(() => 1 / T));
		const { svg } = attentionPattern(fresh(), { tokens, pattern: full }, { causal: false });
		expect(cells(svg)).toHaveLength(T * T);
	});

	it('shows query token, key token and weight on hover and on keyboard focus', () => {
		const { svg } = attentionPattern(fresh(), { tokens, pattern });
		const tip = () => Array.from(svg.querySelectorAll('tspan')).map((t) => t.textContent);
		cell(svg, 6, 2).dispatchEvent(new MouseEvent('mouseover', { bubbles: true }));
		expect(tip()).toEqual(['query 6 "="', 'key 2 "2"', `weight ${pattern[6][2].toFixed(3)}`]);
		(cell(svg, 0, 0) as SVGElement).focus();
		key(document.activeElement!, 'ArrowRight'); // key 1 is masked for query 0: stays
		expect(document.activeElement).toBe(cell(svg, 0, 0));
		key(document.activeElement!, 'ArrowDown');
		key(document.activeElement!, 'ArrowRight');
		expect(document.activeElement).toBe(cell(svg, 1, 1));
		expect(tip()).toEqual(['query 1 "1"', 'key 1 "1"', `weight ${pattern[1][1].toFixed(3)}`]);
	});
});
