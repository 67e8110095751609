// @vitest-environment jsdom
import { describe, expect, it } from 'vitest';
import { modelView } from '../../src/lib/viz/modelView';
import { fresh, key, prettySvg, seeded } from './helpers';

const tokens = ['1', '2', '+', '3', '4', '='];
const T = tokens.length;
const L = 2;
const H = 3;
const rand = seeded(5, 0, 1);
const patterns = Array.from({ length: L }, () =>
	Array.from({ length: H }, () =>
		tokens.map((_, q) => {
			const raw = Array.from({ length: q + 1 }, () => rand() ** 2 + 0.01);
			const sum = raw.reduce((a, b) => a + b, 0);
			return tokens.map((_, k) => (k <= q ? Number((raw[k] / sum).toFixed(3)) : 0));
		})
	)
);
const thumb = (root: Element, l: number, h: number) => root.querySelector(`[data-testid="model-view-head"][data-layer="${l}"][data-head="${h}"]`)!;

describe('modelView', () => {
	it('draws one thumbnail per layer × head covering exactly the causal cells', async () => {
		const { svg } = modelView(fresh(), { tokens, patterns }, { selected: { layer: 1, head: 2 } });
		expect(svg.getAttribute('data-testid')).toBe('model-view');
		expect(svg.querySelectorAll('[data-testid="model-view-head"]')).toHaveLength(L * H);
		for (let l = 0; l < L; l++)
			for (let h = 0; h < H; h++) {
				const squares = Array.from(thumb(svg, l, h).querySelectorAll('path')).reduce((n, p) => n + (p.getAttribute('d')!.match(/M/g) ?? []).length, 0);
				expect(squares).toBe((T * (T + 1)) / 2);
			}
		expect(thumb(svg, 1, 2).getAttribute('aria-selected')).toBe('true');
		expect(thumb(svg, 0, 0).getAttribute('aria-selected')).toBe('false');
		await expect(prettySvg(svg)).toMatchFileSnapshot('./__snapshots__/modelView.svg');
	});

	it('names the strongest key of the last query in each label', () => {
		const { svg } = modelView(fresh(), { tokens, patterns });
		const last = patterns[0][1][T - 1];
		const k = last.indexOf(Math.max(...last));
		expect(thumb(svg, 0, 1).getAttribute('aria-label')).toBe(`Layer 0, head 1; last query "=" → ${JSON.stringify(tokens[k])} (${last[k].toFixed(2)})`);
	});

	it('selects a head with click, Enter and Space after arrow-key moves', () => {
		const picked: string[] = [];
		const { svg } = modelView(fresh(), { tokens, patterns }, { onSelect: (l, h) => picked.push(`${l}.${h}`) });
		(thumb(svg, 0, 0) as SVGElement).focus();
		key(document.activeElement!, 'ArrowDown');
		key(document.activeElement!, 'ArrowRight');
		key(document.activeElement!, 'Enter');
		key(document.activeElement!, 'End');
		key(document.activeElement!, ' ');
		thumb(svg, 0, 1).querySelector('rect')!.dispatchEvent(new MouseEvent('click', { bubbles: true }));
		expect(picked).toEqual(['1.1', '1.2', '0.1']);
	});
});
