// Subtask diagram layout: one column per answer digit (units on the right, or on the left when the
// answer is written units first), the y of every row, the figure's size, and the sub/superscript
// digits the labels use.
import * as d3 from 'd3';
import { SUBTASKS } from '../palette';
import type { SubtaskDiagramData, SubtaskDiagramOptions, SubtaskHead } from './index';

const SUB = '₀₁₂₃₄₅₆₇₈₉';
export const sub = (n: number) => [...String(n)].map((d) => SUB[Number(d)]).join('');
const SUP = '⁰¹²³⁴⁵⁶⁷⁸⁹';
export const sup = (n: number) => [...String(n)].map((d) => SUP[Number(d)]).join('');
const digitsOf = (n: number) => [...String(Math.abs(n))].reverse().map(Number);

export interface SubtaskLayout {
	/** answer digits, column width, x of the first column */
	n: number;
	cw: number;
	left: number;
	/** digits of a and b, units first */
	x: number[];
	y: number[];
	/** left edge and centre of digit i's column */
	col: (i: number) => number;
	mid: (i: number) => number;
	/** the heads listed per digit (at most maxHeads each), and the most any digit lists */
	heads: SubtaskHead[][];
	maxHeads: number;
	hasAcc: boolean;
	hasLoss: boolean;
	/** text baselines of the rows, top to bottom (0 for a row not drawn) */
	yHead: number;
	yX: number;
	yY: number;
	yRule: number;
	yPairs: number;
	yS: number;
	yC: number;
	yBox: number;
	boxH: number;
	yAcc: number;
	yLoss: number;
	yHeads: number;
	yLegend: number;
	width: number;
	height: number;
}

export function subtaskLayout({ a, b, digits, reversed }: SubtaskDiagramData, opts: SubtaskDiagramOptions): SubtaskLayout {
	const n = digits.length;
	const cw = opts.columnWidth;
	const x = digitsOf(a);
	const y = digitsOf(b);
	const left = 64;
	const col = (i: number) => left + (reversed ? i : n - 1 - i) * cw;
	const mid = (i: number) => col(i) + cw / 2;
	const maxPairs = d3.max(digits, (d) => d.pairs.length) ?? 0;
	const heads = digits.map((d) => [...(d.topHeads ?? []).slice(0, opts.maxHeads)]);
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
	return { n, cw, left, x, y, col, mid, heads, maxHeads, hasAcc, hasLoss, yHead, yX, yY, yRule, yPairs, yS, yC, yBox, boxH, yAcc, yLoss, yHeads, yLegend, width, height };
}
