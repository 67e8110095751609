// Subtask diagram axes: the title (a × b = product, and the answer as the model writes it), the row
// labels on the left, the rule under the operands, and the legend of the five subtask classes.
import * as d3 from 'd3';
import { textWidth } from '../figure';
import { SUBTASK_COLORS, SUBTASK_NAMES, SUBTASKS } from '../palette';
import type { SubtaskDiagramData } from './index';
import type { SubtaskLayout } from './layout';

type Root = d3.Selection<SVGSVGElement, unknown, null, undefined>;

export function subtaskAxes(root: Root, { a, b, digits, reversed }: SubtaskDiagramData, lay: SubtaskLayout): void {
	const { n, cw, left, hasAcc, hasLoss, maxHeads, yHead, yX, yY, yRule, yPairs, yS, yC, yBox, boxH, yAcc, yLoss, yHeads } = lay;
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
}

export function subtaskLegend(root: Root, lay: SubtaskLayout): void {
	const { yLegend } = lay;
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
