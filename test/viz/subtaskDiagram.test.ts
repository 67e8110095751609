// @vitest-environment jsdom
import { describe, expect, it } from 'vitest';
import { subtaskDiagram, type SubtaskDiagramData } from '../../src/lib/viz/subtaskDiagram';
import { fresh, key, prettySvg } from './helpers';
import fixture from './fixtures/column_subtasks.json';

// per-digit data as produced by models/train/tasks.py column_subtasks (see the fixture's _source)
const cases = fixture.cases as unknown as Record<string, SubtaskDiagramData>;

const columns = (root: Element) =>
	Array.from(root.querySelectorAll('[data-testid="subtask-digit"]')).sort((a, b) => Number(a.getAttribute('data-digit')) - Number(b.getAttribute('data-digit')));
const shown = (col: Element, role: string) => col.querySelector(`[data-role="${role}"]`)!.textContent;

/** DESIGN §8's classification rule, restated here so the fixture is checked independently. */
function classOf(s: number, c: number): string {
	if (c === 0) return s < 10 ? 'BM' : 'CM';
	if (s === 0) return 'Carry';
	return (s % 10) + (c % 10) < 10 ? 'UC' : 'US10';
}

describe('subtaskDiagram', () => {
	it('12 × 34 = 0408: digits 8 0 4 0 with classes BM CM UC BM (DESIGN §8)', () => {
		const { svg } = subtaskDiagram(fresh(), cases['12x34']);
		expect(svg.getAttribute('data-testid')).toBe('subtask-diagram');
		const cols = columns(svg);
		expect(cols.map((c) => shown(c, 'z'))).toEqual(['8', '0', '4', '0']);
		expect(cols.map((c) => shown(c, 'class'))).toEqual(['BM', 'CM', 'UC', 'BM']);
		expect(cols.map((c) => c.getAttribute('data-s'))).toEqual(['8', '10', '3', '0']);
		expect(cols.map((c) => c.getAttribute('data-c'))).toEqual(['0', '0', '1', '0']);
		// column 1 is fed by x0·y1 = 2·3 and x1·y0 = 1·4
		expect(Array.from(cols[1].querySelectorAll('[data-pair]')).map((t) => t.textContent)).toEqual(['x₀y₁: 2·3', 'x₁y₀: 1·4']);
		expect(Array.from(svg.querySelectorAll('[data-testid="carry-arrow"]')).map((a) => a.getAttribute('data-carry'))).toEqual(['0', '1', '0']);
		expect(svg.textContent).toContain('written 8040 (units first)');
	});

	it('99 × 99 = 9801: digits 1 0 8 9 with classes CM US10 UC Carry (DESIGN §8)', () => {
		const { svg } = subtaskDiagram(fresh(), cases['99x99']);
		const cols = columns(svg);
		expect(cols.map((c) => shown(c, 'z'))).toEqual(['1', '0', '8', '9']);
		expect(cols.map((c) => shown(c, 'class'))).toEqual(['CM', 'US10', 'UC', 'Carry']);
		expect(cols.map((c) => c.getAttribute('data-s'))).toEqual(['81', '162', '81', '0']);
		expect(cols.map((c) => c.getAttribute('data-c'))).toEqual(['0', '8', '17', '9']);
		expect(Array.from(svg.querySelectorAll('[data-testid="carry-arrow"]')).map((a) => a.getAttribute('data-carry'))).toEqual(['8', '17', '9']);
	});

	it('every fixture digit satisfies z = (s + c) mod 10 and the §8 class rule', () => {
		for (const data of Object.values(cases)) {
			const cols = columns(subtaskDiagram(fresh(), data).svg);
			expect(Number(cols.map((c) => shown(c, 'z')).reverse().join(''))).toBe(data.a * data.b);
			for (const c of cols) {
				const s = Number(c.getAttribute('data-s'));
				const cin = Number(c.getAttribute('data-c'));
				expect(Number(shown(c, 'z'))).toBe((s + cin) % 10);
				expect(shown(c, 'class')).toBe(classOf(s, cin));
			}
		}
	});

	it('puts the units column on the right unless reversed', () => {
		const x = (root: Element, d: number) => Number(columns(root)[d].querySelector('[data-role="z"]')!.getAttribute('x'));
		const rev = subtaskDiagram(fresh(), cases['12x34']).svg;
		expect(x(rev, 0)).toBeLessThan(x(rev, 3));
		const plain = subtaskDiagram(fresh(), { ...cases['12x34'], reversed: false }).svg;
		expect(x(plain, 0)).toBeGreaterThan(x(plain, 3));
		expect(plain.textContent).toContain('written 0408');
	});

	it('lists accuracy, loss and top heads, and selects a head by click, Enter or Space', async () => {
		const base = cases['47x86'];
		const data: SubtaskDiagramData = {
			...base,
			digits: base.digits.map((d, i) => ({
				...d,
				accuracy: [1, 0.984, 0.912, 0.997][i],
				loss: [0.002, 0.051, 0.243, 0.011][i],
				topHeads: [
					{ layer: 0, head: i, score: 0.41 - i * 0.05 },
					{ layer: 1, head: (i + 2) % 4, score: 0.22 },
					{ layer: 1, head: 3, score: 0.1 },
					{ layer: 0, head: 3, score: 0.05 }
				]
			}))
		};
		const picked: string[] = [];
		const { svg } = subtaskDiagram(fresh(), data, { onSelectHead: (l, h, d) => picked.push(`L${l}H${h}@${d}`) });
		await expect(prettySvg(svg)).toMatchFileSnapshot('./__snapshots__/subtaskDiagram.svg');
		const chips = Array.from(svg.querySelectorAll('[data-testid="subtask-head"]'));
		expect(chips).toHaveLength(4 * 3); // maxHeads 3 of 4
		expect(chips.every((c) => c.getAttribute('tabindex') === '0')).toBe(true);
		(chips[4] as SVGElement).focus();
		key(chips[4], 'Enter');
		key(chips[0], ' ');
		chips[11].querySelector('text')!.dispatchEvent(new MouseEvent('click', { bubbles: true }));
		expect(picked).toEqual(['L1H3@1', 'L0H0@0', 'L1H3@3']);
		expect(svg.textContent).toContain('98.4%');
		expect(svg.querySelectorAll('[data-testid="subtask-legend"] rect')).toHaveLength(5);
	});
});
