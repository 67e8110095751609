// Hover/focus tooltip, focus ring and keyboard grid navigation shared by the cell-based figures.
import * as d3 from 'd3';
import { maxOf } from '../core/model/arrays';
import { SCREEN_ONLY, THEME, textWidth } from './figure';

export interface Box {
	x: number;
	y: number;
	width: number;
	height: number;
}

export interface Tooltip {
	show(lines: readonly string[], anchor: Box): void;
	hide(): void;
	/** a two-tone ring (page colour inside text colour) so it shows on any cell fill */
	ring(anchor: Box | null): void;
}

const LINE = 14;
const PAD = 6;

/** An SVG tooltip (not HTML) so a figure works inside a caller's <svg> as well as in a <div>.
 * Appended last, so it paints on top; `size` lets it stay inside the figure's bounds. */
export function createTooltip(svg: SVGSVGElement, size: () => { width: number; height: number }): Tooltip {
	const root = d3.select(svg);
	const ring = root.append('g').attr(SCREEN_ONLY, '').attr('pointer-events', 'none').attr('visibility', 'hidden');
	ring.append('rect').attr('fill', 'none').attr('stroke', 'currentColor').attr('stroke-width', 3);
	ring.append('rect').attr('fill', 'none').style('stroke', THEME.background).attr('stroke-width', 1);
	const tip = root
		.append('g')
		.attr(SCREEN_ONLY, '')
		.attr('aria-hidden', 'true')
		.attr('pointer-events', 'none')
		.attr('visibility', 'hidden');
	const bg = tip.append('rect').attr('rx', 3).style('fill', THEME.background).attr('fill-opacity', 0.96).attr('stroke', 'currentColor').attr('stroke-opacity', 0.5);
	const text = tip.append('text').attr('fill', 'currentColor');
	return {
		show(lines, a) {
			const w = maxOf(lines.map((l) => textWidth(l))) + 2 * PAD;
			const h = lines.length * LINE + 2 * PAD - 2;
			const { width, height } = size();
			// to the right of the anchor, flipped left when it would leave the figure
			let x = a.x + a.width + 6;
			if (x + w > width) x = Math.max(0, a.x - w - 6);
			const y = Math.max(0, Math.min(a.y, height - h));
			tip.attr('transform', `translate(${x},${y})`).attr('visibility', 'visible');
			bg.attr('width', w).attr('height', h);
			text
				.selectAll('tspan')
				.data(lines)
				.join('tspan')
				.attr('x', PAD)
				.attr('y', (_, i) => PAD + 10 + i * LINE)
				.text((l) => l);
		},
		hide() {
			tip.attr('visibility', 'hidden');
		},
		ring(a) {
			if (!a) return void ring.attr('visibility', 'hidden');
			ring
				.attr('visibility', 'visible')
				.selectAll('rect')
				.attr('x', a.x - 1)
				.attr('y', a.y - 1)
				.attr('width', a.width + 2)
				.attr('height', a.height + 2);
		}
	};
}

export interface GridOptions {
	/** CSS selector of the focusable cells inside the svg */
	selector: string;
	position(cell: Element): [row: number, col: number];
	box(cell: Element): Box;
	describe(cell: Element): readonly string[];
	onActivate?(cell: Element): void;
}

export interface Grid {
	/** focus the cell at (row, col), if there is one; used to keep focus across update() */
	focusAt(row: number, col: number): boolean;
	/** (row, col) of the focused cell, or null */
	focused(): [number, number] | null;
	destroy(): void;
}

/** ARIA grid behaviour on a set of cells: one tab stop (roving tabindex), arrow keys move to the
 * nearest cell in that direction (missing cells, e.g. a causal mask, are skipped), Home/End go to
 * the row's ends, Enter/Space/click activate, hover or focus shows the tooltip. */
export function interactiveGrid(svg: SVGSVGElement, tooltip: Tooltip, opts: GridOptions): Grid {
	const cells = Array.from(svg.querySelectorAll(opts.selector));
	const at = new Map<string, Element>();
	const pos = new Map<Element, [number, number]>();
	for (const c of cells) {
		const p = opts.position(c);
		pos.set(c, p);
		at.set(p.join(','), c);
	}
	cells.forEach((c, i) => c.setAttribute('tabindex', i === 0 ? '0' : '-1'));
	let current: Element | null = null;
	const cellOf = (t: EventTarget | null) => (t instanceof Element ? t.closest(opts.selector) : null);
	const show = (c: Element) => tooltip.show(opts.describe(c), opts.box(c));

	function step([r, c]: [number, number], dr: number, dc: number): Element | null {
		// walk in the direction until a cell exists or the grid ends
		const rows = d3.max(cells, (e) => pos.get(e)![0]) ?? 0;
		const cols = d3.max(cells, (e) => pos.get(e)![1]) ?? 0;
		for (let i = r + dr, j = c + dc; i >= 0 && j >= 0 && i <= rows && j <= cols; i += dr, j += dc) {
			const e = at.get(`${i},${j}`);
			if (e) return e;
		}
		return null;
	}

	function onKey(ev: Event) {
		const e = ev as KeyboardEvent;
		const cell = cellOf(e.target);
		if (!cell) return;
		const p = pos.get(cell)!;
		const rowCells = cells.filter((c) => pos.get(c)![0] === p[0]);
		const moves: Record<string, () => Element | null | undefined> = {
			ArrowRight: () => step(p, 0, 1),
			ArrowLeft: () => step(p, 0, -1),
			ArrowDown: () => step(p, 1, 0),
			ArrowUp: () => step(p, -1, 0),
			Home: () => (e.ctrlKey ? cells[0] : rowCells[0]),
			End: () => (e.ctrlKey ? cells.at(-1) : rowCells.at(-1))
		};
		if (e.key in moves) {
			e.preventDefault();
			const next = moves[e.key]();
			if (next) (next as SVGElement).focus();
		} else if ((e.key === 'Enter' || e.key === ' ') && opts.onActivate) {
			e.preventDefault();
			opts.onActivate(cell);
		}
	}
	function onFocusIn(ev: Event) {
		const cell = cellOf(ev.target);
		if (!cell) return;
		if (current && current !== cell) current.setAttribute('tabindex', '-1');
		cell.setAttribute('tabindex', '0');
		current = cell;
		tooltip.ring(opts.box(cell));
		show(cell);
	}
	function onFocusOut() {
		tooltip.ring(null);
		tooltip.hide();
	}
	function onOver(ev: Event) {
		const cell = cellOf(ev.target);
		if (cell) show(cell);
	}
	function onLeave() {
		if (current && svg.ownerDocument.activeElement === current) show(current);
		else tooltip.hide();
	}
	function onClick(ev: Event) {
		const cell = cellOf(ev.target);
		if (!cell) return;
		(cell as SVGElement).focus();
		opts.onActivate?.(cell);
	}
	// Focus listeners go on the cells, not the root: Chromium makes any SVG element with focus
	// listeners focusable, which would add the whole <svg> as an extra tab stop.
	const listeners: [string, (e: Event) => void][] = [
		['keydown', onKey],
		['mouseover', onOver],
		['mouseleave', onLeave],
		['click', onClick]
	];
	for (const [t, f] of listeners) svg.addEventListener(t, f);
	for (const c of cells) {
		c.addEventListener('focus', onFocusIn);
		c.addEventListener('blur', onFocusOut);
	}
	return {
		focusAt(row, col) {
			const e = at.get(`${row},${col}`);
			if (e) (e as SVGElement).focus();
			return !!e;
		},
		focused() {
			const a = svg.ownerDocument.activeElement;
			return a && pos.has(a) ? pos.get(a)! : null;
		},
		destroy() {
			for (const [t, f] of listeners) svg.removeEventListener(t, f);
			for (const c of cells) {
				c.removeEventListener('focus', onFocusIn);
				c.removeEventListener('blur', onFocusOut);
			}
		}
	};
}

/** Box of a <rect>, in the coordinates of the root svg given the translate of its ancestors. */
export function rectBox(el: Element): Box {
	const n = (a: string) => Number(el.getAttribute(a) ?? 0);
	let x = n('x');
	let y = n('y');
	for (let p = el.parentElement; p && p.localName !== 'svg'; p = p.parentElement) {
		const m = /translate\(([-\d.e]+)[ ,]+([-\d.e]+)\)/.exec(p.getAttribute('transform') ?? '');
		if (m) {
			x += Number(m[1]);
			y += Number(m[2]);
		}
	}
	return { x, y, width: n('width'), height: n('height') };
}
