// @vitest-environment jsdom
// A model with NaN/Inf activations must still draw: the attention matrix and the layer × head grid
// show such weights as hatched grey cells and name them in the tooltip, instead of throwing.
import { describe, expect, it } from 'vitest';
import { attentionPattern } from '../../src/lib/viz/attentionPattern';
import { modelView } from '../../src/lib/viz/modelView';
import { fresh } from './helpers';

const tokens = ['<bos>', '1', '+', '2', '='];
const pattern = [
	[1, 0, 0, 0, 0],
	[0.25, 0.75, 0, 0, 0],
	[NaN, NaN, NaN, 0, 0],
	[0.1, Infinity, 0.2, 0.3, 0],
	[0.2, 0.2, 0.2, -Infinity, 0.4]
];
const cell = (root: Element, q: number, k: number) => root.querySelector(`[data-testid="attention-cell"][data-query="${q}"][data-key="${k}"]`)!;

describe('non-finite attention weights', () => {
	it('attentionPattern draws NaN/Inf cells hatched and names them in the tooltip', () => {
		const { svg } = attentionPattern(fresh(), { tokens, pattern });
		const hatch = svg.querySelector('defs pattern')!;
		expect(hatch).not.toBeNull();
		const url = `url(#${hatch.id})`;
		for (const [q, k] of [[2, 0], [2, 1], [2, 2], [3, 1], [4, 3]]) expect(cell(svg, q, k).getAttribute('fill')).toBe(url);
		expect(cell(svg, 1, 1).getAttribute('fill')).toMatch(/^rgb\(/);
		expect(cell(svg, 2, 1).getAttribute('aria-label')).toBe('query 2 "+", key 1 "1", weight NaN');
		cell(svg, 3, 1).dispatchEvent(new MouseEvent('mouseover', { bubbles: true }));
		expect(Array.from(svg.querySelectorAll('tspan')).map((t) => t.textContent)).toEqual(['query 3 "2"', 'key 1 "1"', 'weight +Inf']);
		expect(cell(svg, 4, 3).getAttribute('aria-label')).toContain('weight -Inf');
	});

	it('attentionPattern defines no hatch when every weight is finite', () => {
		const { svg } = attentionPattern(fresh(), { tokens, pattern: pattern.map((r) => r.map((w) => (Number.isFinite(w) ? w : 0))) });
		expect(svg.querySelector('defs')).toBeNull();
	});

	it('modelView draws NaN/Inf weights in a hatched path and says so in the head summary', () => {
		const clean = pattern.map((r) => r.map((w) => (Number.isFinite(w) ? w : 0)));
		const { svg } = modelView(fresh(), { tokens, patterns: [[pattern, clean]] });
		const heads = svg.querySelectorAll('[data-testid="model-view-head"]');
		const bad = heads[0].querySelector('path[data-nonfinite="true"]')!;
		expect(bad.getAttribute('d')!.match(/M/g)).toHaveLength(5);
		expect(bad.getAttribute('fill')).toBe(`url(#${svg.querySelector('defs pattern')!.id})`);
		expect(heads[1].querySelector('path[data-nonfinite]')).toBeNull();
		expect(heads[0].getAttribute('aria-label')).toBe('Layer 0, head 0; last query "=" → "=" (0.40); 1 weight is NaN/Inf');
		const allNaN = [[NaN]];
		const one = modelView(fresh(), { tokens: ['x'], patterns: [[allNaN]] });
		expect(one.svg.querySelector('[data-testid="model-view-head"]')!.getAttribute('aria-label')).toBe('Layer 0, head 0; last query: all weights NaN/Inf');
	});
});
