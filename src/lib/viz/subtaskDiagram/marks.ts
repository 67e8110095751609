// Subtask diagram marks: per answer digit its operand digits, pairs, column sum, carry in, the class
// box with the digit, accuracy, loss and head chips; and the carry arrows from column to column.
import * as d3 from 'd3';
import { FONT_MONO, formatNumber } from '../figure';
import { SUBTASK_COLORS, SUBTASK_NAMES, isSubtask } from '../palette';
import type { SubtaskDiagramData } from './index';
import { sub, sup, type SubtaskLayout } from './layout';

type Root = d3.Selection<SVGSVGElement, unknown, null, undefined>;

export function subtaskColumns(root: Root, { digits }: SubtaskDiagramData, lay: SubtaskLayout): void {
	const { cw, x, y, col, mid, heads, yHead, yX, yY, yPairs, yS, yC, yBox, boxH, yAcc, yLoss, yHeads } = lay;
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
}

export function carryArrows(root: Root, { digits, reversed }: SubtaskDiagramData, lay: SubtaskLayout): void {
	const { n, mid, yC } = lay;
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
}
