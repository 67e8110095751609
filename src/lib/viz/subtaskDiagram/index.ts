// Long-multiplication layout of a × b split into per-digit subtasks (Qiu et al. 2024; DESIGN §8).
//
// One column per answer digit z_i: the operand-digit pairs x_j·y_k with j + k = i that feed it, the
// column sum s_i, the incoming carry c_i (an arrow from the previous column's carry out), the digit
// and its subtask class (colour plus name, so the class never depends on hue alone), then optional
// per-digit accuracy, loss and the heads most important for that digit (buttons → onSelectHead).
// Columns are in place-value order (units on the right) unless `reversed`, where they follow the
// order in which the model writes the answer (units first, on the left), as in mul-2d.
// The figure only draws what it is given; the per-digit fields are those of tasks.py column_subtasks.
//
// Parts, like Plot's marks: layout.ts (columns, rows, size), axes.ts (title, row labels, legend),
// marks.ts (digit columns, carry arrows); this file puts them together and wires the head chips.
import * as d3 from 'd3';
import { createTooltip } from '../interaction';
import { formatNumber, mountSvg, sizeSvg, figureHandle, type FigureHandle, type Target } from '../figure';
import { subtaskAxes, subtaskLegend } from './axes';
import { sub, subtaskLayout } from './layout';
import { carryArrows, subtaskColumns } from './marks';

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

const SUBTASK_DIAGRAM_DEFAULTS: SubtaskDiagramOptions = { columnWidth: 84, maxHeads: 3, legend: true };

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

	function draw(data: SubtaskDiagramData) {
		svg.replaceChildren();
		const { a, b, digits } = data;
		const lay = subtaskLayout(data, opts);
		const { cw, col, heads, yHeads, width, height } = lay;
		sizeSvg(svg, width, height);
		const root = d3.select(svg).attr('role', 'group').attr('aria-label', `Long multiplication ${a} × ${b} = ${a * b}, one column per answer digit`);
		subtaskAxes(root, data, lay);
		subtaskColumns(root, data, lay);
		carryArrows(root, data, lay);
		if (opts.legend) subtaskLegend(root, lay);

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
