// @vitest-environment jsdom
import { interpolateRdBu } from 'd3';
import { describe, expect, it } from 'vitest';
import { headMap } from '../../src/lib/viz/headMap';
import { fresh, headRanks, key, prettySvg, seeded } from './helpers';

const L = 4;
const H = 6;
const rand = seeded(7);
const heads = Array.from({ length: L }, () => Array.from({ length: H }, rand));
// make the largest |score| negative, so "largest score" and "largest |score|" pick different sets
heads[2][3] = -0.987;
const mlp = Array.from({ length: L }, rand);

const cells = (root: Element) => Array.from(root.querySelectorAll('[data-testid="head-cell"]'));
const at = (root: Element, l: number, h: number) => root.querySelector(`[data-testid="head-cell"][data-layer="${l}"][data-head="${h}"]`)!;

function expectedTop(k: number, by: (v: number) => number): string[] {
	const flat = heads.flatMap((r, l) => r.map((s, h) => ({ l, h, s })));
	flat.sort((a, b) => by(b.s) - by(a.s));
	return flat.slice(0, k).map((c) => `${c.l},${c.h}`).sort();
}

describe('headMap', () => {
	it('draws one cell per layer × head carrying its exact score, and one MLP cell per layer', async () => {
		const div = fresh();
		const { svg } = headMap(div, { heads, mlp, ranks: headRanks(heads) }, { topK: 3, title: 'Ablation (logprob drop)', scoreLabel: 'logprob drop' });
		expect(svg.getAttribute('data-testid')).toBe('head-map');
		const all = cells(svg);
		expect(all).toHaveLength(L * H);
		for (let l = 0; l < L; l++)
			for (let h = 0; h < H; h++) expect(Number(at(svg, l, h).getAttribute('data-score'))).toBe(heads[l][h]);
		expect(at(svg, 0, 1).getAttribute('data-score')).toBe(String(heads[0][1]));
		const m = Array.from(svg.querySelectorAll('[data-testid="mlp-cell"]'));
		expect(m.map((c) => Number(c.getAttribute('data-score')))).toEqual(mlp);
		// one tab stop for the whole grid
		expect(svg.querySelectorAll('[tabindex="0"]')).toHaveLength(1);
		await expect(prettySvg(svg)).toMatchFileSnapshot('./__snapshots__/headMap.svg');
	});

	it('outlines exactly the k best-ranked heads: the k largest scores, the k largest |score| ranked by magnitude', () => {
		const div = fresh();
		const h = headMap(div, { heads, ranks: headRanks(heads) }, { topK: 4 });
		const outlined = (root: Element) =>
			Array.from(root.querySelectorAll('[data-top-k]')).map((c) => `${c.getAttribute('data-layer')},${c.getAttribute('data-head')}`).sort();
		expect(outlined(h.svg)).toEqual(expectedTop(4, (v) => v));
		expect(outlined(h.svg)).not.toContain('2,3');
		expect(h.svg.querySelectorAll('[data-testid="top-k-outline"]')).toHaveLength(4);
		expect(at(h.svg, 2, 3).getAttribute('data-rank')).toBe(String(L * H)); // the most negative ranks last
		h.update({ heads, ranks: headRanks(heads, 'magnitude') });
		expect(outlined(h.svg)).toEqual(expectedTop(4, Math.abs));
		expect(outlined(h.svg)).toContain('2,3');
		h.update({ heads, ranks: headRanks(heads, 'ascending') });
		expect(outlined(h.svg)).toEqual(expectedTop(4, (v) => -v));
		expect(at(h.svg, 2, 3).getAttribute('data-rank')).toBe('1'); // the most negative ranks first
	});

	it('colours on a diverging scale centred at 0 with a symmetric domain', () => {
		const div = fresh();
		const { svg } = headMap(div, { heads: [[-2, 0, 1, 2]] }, { topK: 0 });
		const fill = (h: number) => at(svg, 0, h).getAttribute('fill');
		// domain [-2, 0, 2]: 0 is the middle of RdBu, ±2 its ends (dark red, dark blue), 1 three quarters
		expect(fill(1)).toBe(interpolateRdBu(0.5));
		expect(fill(0)).toBe('rgb(103, 0, 31)');
		expect(fill(3)).toBe('rgb(5, 48, 97)');
		expect(fill(2)).toBe(interpolateRdBu(0.75));
	});

	it('selects with click, Enter and Space, moves with arrow keys, and reaches the MLP column', () => {
		const div = fresh();
		const picked: string[] = [];
		const { svg } = headMap(div, { heads, mlp }, { onSelect: (l, h) => picked.push(`head ${l}.${h}`), onSelectMlp: (l) => picked.push(`mlp ${l}`) });
		const start = at(svg, 0, 0) as SVGElement;
		start.focus();
		expect(document.activeElement).toBe(start);
		key(start, 'ArrowRight');
		key(document.activeElement!, 'ArrowDown');
		expect(document.activeElement).toBe(at(svg, 1, 1));
		expect(at(svg, 1, 1).getAttribute('tabindex')).toBe('0');
		expect(start.getAttribute('tabindex')).toBe('-1');
		key(document.activeElement!, 'Enter');
		key(document.activeElement!, 'End');
		expect(document.activeElement!.getAttribute('data-testid')).toBe('mlp-cell');
		key(document.activeElement!, ' ');
		key(document.activeElement!, 'ArrowUp');
		key(document.activeElement!, 'ArrowUp'); // already in layer 0: stays
		key(document.activeElement!, 'Enter');
		(at(svg, 3, 5) as SVGElement).dispatchEvent(new MouseEvent('click', { bubbles: true }));
		expect(picked).toEqual(['head 1.1', 'mlp 1', 'mlp 0', 'head 3.5']);
	});

	it('shows layer, head, score and rank in the tooltip on focus', () => {
		const div = fresh();
		const { svg } = headMap(div, { heads, ranks: headRanks(heads) }, { scoreLabel: 'drop' });
		(at(svg, 2, 3) as SVGElement).focus();
		const tip = Array.from(svg.querySelectorAll('tspan')).map((t) => t.textContent);
		expect(tip).toEqual(['Layer 2, head 3', 'drop −0.987', `rank ${L * H} of ${L * H}`]);
	});

	it('leaves unmeasured (null/NaN) heads unranked and uncoloured', () => {
		const unmeasured = [[0.2, null], [Number.NaN, -0.1]];
		const { svg } = headMap(fresh(), { heads: unmeasured, ranks: headRanks(unmeasured) }, { topK: 3 });
		expect(at(svg, 0, 1).getAttribute('data-score')).toBe('NaN');
		expect(at(svg, 0, 1).getAttribute('fill')).toBe('none');
		expect(at(svg, 1, 0).hasAttribute('data-rank')).toBe(false);
		expect(svg.querySelectorAll('[data-top-k]')).toHaveLength(2);
		expect(at(svg, 1, 1).getAttribute('data-rank')).toBe('2');
	});

	it('keeps focus on the same cell across update(), and destroy() removes its svg', () => {
		const div = fresh();
		const h = headMap(div, { heads });
		(at(h.svg, 1, 2) as SVGElement).focus();
		h.update({ heads: heads.map((r) => r.map((v) => v / 2)) });
		expect(document.activeElement).toBe(at(h.svg, 1, 2));
		expect(at(h.svg, 1, 2).getAttribute('data-score')).toBe(String(heads[1][2] / 2));
		h.destroy();
		expect(div.children).toHaveLength(0);
	});
});
