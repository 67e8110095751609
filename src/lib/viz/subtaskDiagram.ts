// Long-multiplication layout of a × b split into per-digit subtasks (Qiu et al. 2024; DESIGN §8).
//
// One column per answer digit z_i: the operand-digit pairs x_j·y_k with j + k = i that feed it, the
// column sum s_i, the incoming carry c_i (an arrow from the previous column's carry out), the digit
// and its subtask class (colour plus name, so the class never depends on hue alone), then optional
// per-digit accuracy, loss and the heads most important for that digit (buttons → onSelectHead).
// Columns are in place-value order (units on the right) unless `reversed`, where they follow the
// order in which the model writes the answer (units first, on the left), as in mul-2d.
// The figure only draws what it is given; the per-digit fields are those of tasks.py column_subtasks.
import * as d3 from 'd3';
import { createTooltip } from './interaction';
import { SUBTASK_COLORS, SUBTASK_NAMES, SUBTASKS, isSubtask } from './palette';
import { FONT_MONO, formatNumber, mountSvg, sizeSvg, textWidth, figureHandle, type FigureHandle, type Target } from './figure';

export interface SubtaskHead {
	layer: number;
	head: number;
	score: number;
}

export interface SubtaskDigit {
	/** i: place value 10^i, 0 = units */
	digit: number;
	/** column sum s_i = Σ_{j+k=i} x_j·y_k */
	s: number;
	/** incoming carry c_i */
	c: number;
	/** answer digit (s_i + c_i) mod 10 */
	z: number;
	/** outgoing carry c_{i+1} */
	carry_out: number;
	class: string;
	/** operand-digit pairs [j, k] with j + k = i */
	pairs: readonly (readonly [number, number] | readonly number[])[];
	/** exact-match accuracy of this digit, 0..1 */
	accuracy?: number;
	loss?: number;
	topHeads?: readonly SubtaskHead[];
}

export interface SubtaskDiagramData {
	a: number;
	b: number;
	digits: readonly SubtaskDigit[];
	/** the answer is written units first (columns then run left to right in writing order) */
	reversed: boolean;
}

export interface SubtaskDiagramOptions {
	columnWidth: number;
	/** how many of each digit's topHeads to list */
	maxHeads: number;
	legend: boolean;
	onSelectHead?: (layer: number, head: number, digit: number) => void;
}

export const SUBTASK_DIAGRAM_DEFAULTS: SubtaskDiagramOptions = { columnWidth: 84, maxHeads: 3, legend: true };

const SUB = '₀₁₂₃₄₅₆₇₈₉';
const sub = (n: number) => [...String(n)].map((d) => SUB[Number(d)]).join('');
const SUP = '⁰¹²³⁴⁵⁶⁷⁸⁹';
const sup = (n: number) => [...String(n)].map((d) => SUP[Number(d)]).join('');
const digitsOf = (n: number) => [...String(Math.abs(n))].reverse().map(Number);

export function subtaskDiagram(
	target: Target,
	data: SubtaskDiagramData,
	options: Partial<SubtaskDiagramOptions> = {}
): FigureHandle<SubtaskDiagramData, SubtaskDiagramOptions> {
	const { svg, owned } = mountSvg(target, 'subtask-diagram');
	let opts: SubtaskDiagramOptions = { ...SUBTASK_DIAGRAM_DEFAULTS, ...options };

	function onKey(ev: Event) {
		const e = ev as KeyboardEvent;
		if (e.key !== 'Enter' && e.key !== ' ') return;
		if (activate(e.target)) e.preventDefault();
	}
	function onClick(ev: Event) {
		activate(ev.target);
	}
	function activate(t: EventTarget | null): boolean {
		const chip = t instanceof Element ? t.closest('[data-testid="subtask-head"]') : null;
		if (!chip) return false;
		const n = (a: string) => Number(chip.getAttribute(a));
		opts.onSelectHead?.(n('data-layer'), n('data-head'), n('data-digit'));
		return true;
	}
	svg.addEventListener('keydown', onKey);
	svg.addEventListener('click', onClick);

	function draw({ a, b, digits, reversed }: SubtaskDiagramData) {
		svg.replaceChildren();
		const n = digits.length;
		const cw = opts.columnWidth;
		const x = digitsOf(a);
		const y = digitsOf(b);
		const left = 64;
		const col = (i: number) => left + (reversed ? i : n - 1 - i) * cw;
		const mid = (i: number) => col(i) + cw / 2;
		const maxPairs = d3.max(digits, (d) => d.pairs.length) ?? 0;
		const heads = digits.map((d) => (d.topHeads ?? []).slice(0, opts.maxHeads));
		const maxHeads = d3.max(heads, (h) => h.length) ?? 0;
		const hasAcc = digits.some((d) => d.accuracy != null);
		const hasLoss = digits.some((d) => d.loss != null);

		// rows top to bottom; each y is a text baseline
		let yy = 22;
		const row = (h: number) => (yy += h);
		const yHead = row(22);
		const yX = row(24);
		const yY = row(22);
		const yRule = row(10);
		const yPairs = row(16);
		row(Math.max(0, maxPairs - 1) * 14);
		const yS = row(22);
		const yC = row(28);
		const yBox = row(14);
		const boxH = 46;
		row(boxH);
		const yAcc = hasAcc ? row(18) : 0;
		const yLoss = hasLoss ? row(16) : 0;
		const yHeads = maxHeads ? row(12) : 0;
		if (maxHeads) row(maxHeads * 22);
		const yLegend = opts.legend ? row(24) : 0;
		if (opts.legend) row(SUBTASKS.length * 16);
		const width = Math.max(left + n * cw + 8, opts.legend ? 380 : 0);
		const height = yy + 8;
		sizeSvg(svg, width, height);

		const root = d3.select(svg).attr('role', 'group').attr('aria-label', `Long multiplication ${a} × ${b} = ${a * b}, one column per answer digit`);
		const written = (reversed ? [...digits] : [...digits].reverse()).map((d) => d.z).join('');
		const title = `${a} × ${b} = ${a * b}`;
		root.append('text').attr('y', 16).attr('font-size', 14).attr('font-weight', 600).attr('fill', 'currentColor').text(title);
		root
			.append('text')
			.attr('x', Math.round(textWidth(title, 14) + 12))
			.attr('y', 16)
			.attr('fill', 'currentColor')
			.attr('fill-opacity', 0.75)
			.text(`written ${written}${reversed ? ' (units first)' : ''}`);

		const labels = root.append('g').attr('aria-hidden', 'true').attr('fill', 'currentColor').attr('fill-opacity', 0.75);
		const rowLabels: [string, number][] = [
			['digit', yHead],
			['a', yX],
			['b', yY],
			['pairs', yPairs],
			['sum', yS],
			['carry in', yC],
			['answer', yBox + boxH / 2 + 4]
		];
		if (hasAcc) rowLabels.push(['accuracy', yAcc]);
		if (hasLoss) rowLabels.push(['loss', yLoss]);
		if (maxHeads) rowLabels.push(['top heads', yHeads + 14]);
		labels
			.selectAll('text')
			.data(rowLabels)
			.join('text')
			.attr('x', 0)
			.attr('y', (d) => d[1])
			.text((d) => d[0]);
		root
			.append('line')
			.attr('aria-hidden', 'true')
			.attr('x1', left)
			.attr('x2', left + n * cw)
			.attr('y1', yRule)
			.attr('y2', yRule)
			.attr('stroke', 'currentColor')
			.attr('stroke-opacity', 0.5);

		const columns = root
			.append('g')
			.selectAll('g')
			.data(digits)
			.join('g')
			.attr('data-testid', 'subtask-digit')
			.attr('data-digit', (d) => d.digit)
			.attr('data-class', (d) => d.class)
			.attr('data-z', (d) => d.z)
			.attr('data-s', (d) => d.s)
			.attr('data-c', (d) => d.c)
			.attr('data-carry-out', (d) => d.carry_out)
			.attr('role', 'group')
			.attr(
				'aria-label',
				(d) =>
					`Answer digit ${d.digit}: column sum ${d.s}, carry in ${d.c}, digit ${d.z}, carry out ${d.carry_out}, ` +
					`${d.class}${isSubtask(d.class) ? ` (${SUBTASK_NAMES[d.class]})` : ''}`
			);
		columns.each(function (d, idx) {
			const g = d3.select(this);
			const cx = mid(d.digit);
			const text = (yv: number, s: string, size = 12) =>
				g.append('text').attr('x', cx).attr('y', yv).attr('text-anchor', 'middle').attr('font-size', size).attr('fill', 'currentColor').text(s);
			text(yHead, `z${sub(d.digit)} · 10${sup(d.digit)}`, 10).attr('fill-opacity', 0.75);
			for (const [yv, ds, name] of [
				[yX, x, 'x'],
				[yY, y, 'y']
			] as const) {
				if (d.digit >= ds.length) continue;
				text(yv, String(ds[d.digit]), 15).attr('font-family', FONT_MONO);
				g.append('text')
					.attr('x', cx - 10)
					.attr('y', yv)
					.attr('text-anchor', 'end')
					.attr('font-size', 9)
					.attr('fill', 'currentColor')
					.attr('fill-opacity', 0.7)
					.text(`${name}${sub(d.digit)}`);
			}
			d.pairs.forEach(([j, k], p) =>
				text(yPairs + p * 14, `x${sub(j)}y${sub(k)}: ${x[j] ?? '?'}·${y[k] ?? '?'}`, 10.5).attr('font-family', FONT_MONO).attr('data-pair', `${j},${k}`)
			);
			if (!d.pairs.length) text(yPairs, '—', 10.5).attr('fill-opacity', 0.5);
			text(yS, `s${sub(d.digit)} = ${d.s}`).attr('font-family', FONT_MONO);
			text(yC, `c${sub(d.digit)} = ${d.c}`)
				.attr('font-family', FONT_MONO)
				.attr('fill-opacity', d.c ? 1 : 0.6);

			const fill = isSubtask(d.class) ? SUBTASK_COLORS[d.class] : '#bbbbbb';
			g.append('rect')
				.attr('x', col(d.digit) + 8)
				.attr('y', yBox)
				.attr('width', cw - 16)
				.attr('height', boxH)
				.attr('rx', 5)
				.attr('fill', fill)
				.attr('stroke', 'currentColor')
				.attr('stroke-opacity', 0.4);
			// dark text on every class colour (all are light Okabe-Ito tones), whatever the page scheme
			g.append('text')
				.attr('x', cx)
				.attr('y', yBox + 25)
				.attr('text-anchor', 'middle')
				.attr('font-size', 22)
				.attr('font-weight', 700)
				.attr('font-family', FONT_MONO)
				.attr('fill', '#111')
				.attr('data-role', 'z')
				.text(d.z);
			g.append('text')
				.attr('x', cx)
				.attr('y', yBox + 40)
				.attr('text-anchor', 'middle')
				.attr('font-size', 10.5)
				.attr('font-weight', 600)
				.attr('fill', '#111')
				.attr('data-role', 'class')
				.text(d.class);
			if (d.accuracy != null) text(yAcc, d3.format('.1~%')(d.accuracy), 11);
			if (d.loss != null) text(yLoss, formatNumber(d.loss), 11);

			const chips = g
				.selectAll('g.head')
				.data(heads[idx])
				.join('g')
				.attr('class', 'head')
				.attr('data-testid', 'subtask-head')
				.attr('data-digit', d.digit)
				.attr('data-layer', (h) => h.layer)
				.attr('data-head', (h) => h.head)
				.attr('role', 'button')
				.attr('tabindex', 0)
				.attr('cursor', 'pointer')
				.attr('aria-label', (h, r) => `Layer ${h.layer}, head ${h.head}, score ${formatNumber(h.score)}: head ${r + 1} for answer digit ${d.digit}`)
				.attr('transform', (_, r) => `translate(${col(d.digit) + 6},${yHeads + r * 22})`);
			chips
				.append('rect')
				.attr('width', cw - 12)
				.attr('height', 18)
				.attr('rx', 9)
				.attr('fill', 'currentColor')
				.attr('fill-opacity', 0.08)
				.attr('stroke', 'currentColor')
				.attr('stroke-opacity', 0.5);
			chips
				.append('text')
				.attr('x', (cw - 12) / 2)
				.attr('y', 13)
				.attr('text-anchor', 'middle')
				.attr('font-size', 10.5)
				.attr('fill', 'currentColor')
				.text((h) => `L${h.layer}H${h.head} ${formatNumber(h.score)}`);
		});

		// carry arrows c_i → c_{i+1}: from column i's carry out into column i+1's "carry in";
		// zero carries stay as faint dashed arrows so every column link is visible
		const arrows = root.append('g').attr('aria-hidden', 'true').attr('fill', 'none').attr('stroke', 'currentColor');
		for (const d of digits) {
			if (d.digit + 1 >= n) continue;
			const dir = reversed ? 1 : -1;
			const x0 = mid(d.digit) + dir * 30;
			const x1 = mid(d.digit + 1) - dir * 30;
			const ya = yC - 4;
			const arrow = arrows
				.append('g')
				.attr('data-testid', 'carry-arrow')
				.attr('data-from', d.digit)
				.attr('data-carry', d.carry_out)
				.attr('stroke-opacity', d.carry_out ? 0.9 : 0.35)
				.attr('stroke-dasharray', d.carry_out ? null : '3 3');
			arrow.append('path').attr('d', `M${x0},${ya}Q${(x0 + x1) / 2},${ya - 16} ${x1},${ya}`);
			// small head at the end of the curve, pointing along its final (down and onward) direction
			arrow
				.append('path')
				.attr('stroke', 'none')
				.attr('fill', 'currentColor')
				.attr('d', `M${x1 + dir * 1},${ya + 1}l${-dir * 7},${-1.5}l${dir * 3.5},${-5}z`);
			arrows
				.append('text')
				.attr('x', (x0 + x1) / 2)
				.attr('y', ya - 14)
				.attr('text-anchor', 'middle')
				.attr('font-size', 10)
				.attr('stroke', 'none')
				.attr('fill', 'currentColor')
				.attr('fill-opacity', d.carry_out ? 1 : 0.5)
				.text(`+${d.carry_out}`);
		}

		if (opts.legend) {
			const legend = root
				.append('g')
				.attr('data-testid', 'subtask-legend')
				.attr('transform', `translate(0,${yLegend})`);
			const items = legend
				.selectAll('g')
				.data(SUBTASKS)
				.join('g')
				.attr('transform', (_, i) => `translate(0,${i * 16})`);
			items
				.append('rect')
				.attr('width', 34)
				.attr('height', 12)
				.attr('rx', 2)
				.attr('fill', (s) => SUBTASK_COLORS[s]);
			items
				.append('text')
				.attr('x', 17)
				.attr('y', 9.5)
				.attr('text-anchor', 'middle')
				.attr('font-size', 9)
				.attr('font-weight', 600)
				.attr('fill', '#111')
				.text((s) => s);
			items
				.append('text')
				.attr('x', 40)
				.attr('y', 10)
				.attr('fill', 'currentColor')
				.text((s) => SUBTASK_NAMES[s]);
		}

		const tooltip = createTooltip(svg, () => ({ width, height }));
		root.selectAll<SVGGElement, SubtaskHead>('[data-testid="subtask-head"]')
			.on('focus', function (_, h) {
				const d = Number(this.getAttribute('data-digit'));
				const box = { x: col(d) + 6, y: yHeads + heads[digits.findIndex((g) => g.digit === d)].indexOf(h) * 22, width: cw - 12, height: 18 };
				tooltip.ring(box);
				tooltip.show([`Layer ${h.layer}, head ${h.head}`, `score ${formatNumber(h.score)}`, `for digit z${sub(d)}`], box);
			})
			.on('blur', () => {
				tooltip.ring(null);
				tooltip.hide();
			});
	}

	draw(data);
	return figureHandle(svg, owned, draw, (o) => (opts = { ...opts, ...o }), () => {
		svg.removeEventListener('keydown', onKey);
		svg.removeEventListener('click', onClick);
	});
}
