// Shared scaffolding of the viz marks: the root <svg>, fonts, theme hooks and text measurement.
import * as d3 from 'd3';

export const SVG_NS = 'http://www.w3.org/2000/svg';

/** Where a mark draws: an <svg> it takes over, or any element it appends its own <svg> to. */
export type Target = SVGSVGElement | Element;

/** What every render function returns. `update` redraws with new data (and optionally new options). */
export interface FigureHandle<Data, Options> {
	readonly svg: SVGSVGElement;
	update(data: Data, options?: Partial<Options>): void;
	destroy(): void;
}

/** Page-level theme hooks: set these custom properties on any ancestor to restyle every figure.
 * Text and rules use `currentColor`, so a figure follows the page's light or dark scheme untouched. */
export const THEME = {
	/** tooltip and focus-ring background; `Canvas` is the scheme-aware page background */
	background: 'var(--viz-bg, Canvas)',
	/** outline of highlighted cells (top-k heads, selection) */
	accent: 'var(--viz-accent, currentColor)'
} as const;

const FONT_SANS = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
export const FONT_MONO = 'ui-monospace, "SF Mono", Menlo, Consolas, monospace';

/** Elements only useful on screen (tooltip, focus ring); exportFigure drops them. */
export const SCREEN_ONLY = 'data-screen-only';

function isSvgRoot(target: Target): target is SVGSVGElement {
	return target.namespaceURI === SVG_NS && target.localName === 'svg';
}

/** Take over `target` if it is an <svg> (emptying it), else append a new <svg> to it. */
export function mountSvg(target: Target, testId: string): { svg: SVGSVGElement; owned: boolean } {
	const owned = !isSvgRoot(target);
	const svg = owned
		? (target.appendChild(target.ownerDocument.createElementNS(SVG_NS, 'svg')) as SVGSVGElement)
		: target;
	d3.select(svg)
		.attr('xmlns', SVG_NS)
		.attr('data-testid', testId)
		.attr('font-family', FONT_SANS)
		.attr('font-size', 11)
		.style('overflow', 'visible');
	svg.replaceChildren();
	return { svg, owned };
}

/** Give the root its size: explicit width/height (what exports and PNGs need) plus a viewBox so
 * CSS may scale it (`svg { max-width: 100% ; height: auto }`). */
export function sizeSvg(svg: SVGSVGElement, width: number, height: number): void {
	const w = Math.ceil(width);
	const h = Math.ceil(height);
	d3.select(svg).attr('width', w).attr('height', h).attr('viewBox', `0 0 ${w} ${h}`);
}

/** Undo mountSvg: remove an <svg> we created, or empty and unmark the caller's one. */
/**
 * The handle every figure returns, after its first draw: `update` merges the options (through the
 * figure's own setter, since each figure keeps them in a local) and redraws; `destroy` runs the
 * figure's cleanup (listeners, keyboard grid) and unmounts the svg.
 */
export function figureHandle<Data, Options>(
	svg: SVGSVGElement,
	owned: boolean,
	draw: (data: Data) => void,
	setOptions: (options: Partial<Options>) => void,
	cleanup: () => void
): FigureHandle<Data, Options> {
	return {
		svg,
		update(next, options) {
			if (options) setOptions(options);
			draw(next);
		},
		destroy() {
			cleanup();
			unmountSvg(svg, owned);
		}
	};
}

function unmountSvg(svg: SVGSVGElement, owned: boolean): void {
	if (owned) svg.remove();
	else {
		svg.replaceChildren();
		for (const a of ['data-testid', 'role', 'aria-label', 'width', 'height', 'viewBox']) svg.removeAttribute(a);
	}
}

/** Rough width of a label in px. DOM text measurement is absent in jsdom and forces layout in
 * browsers; an average advance per character is accurate enough for margins and tooltips. */
export function textWidth(text: string, fontSize = 11, mono = false): number {
	return [...text].length * fontSize * (mono ? 0.62 : 0.58);
}

/** Short human format for scores: 3 significant digits, no trailing zeros. */
export const formatNumber = (v: number | null | undefined): string =>
	v == null || !Number.isFinite(v) ? '—' : Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? d3.format('.3~e')(v) : d3.format('.3~r')(v);

/** Show a token so whitespace and empty strings stay visible in axis labels. */
export function displayToken(token: string, maxChars = 8): string {
	const visible = token === '' ? '∅' : token.replace(/ /g, '␣').replace(/\n/g, '⏎').replace(/\t/g, '⇥');
	const chars = [...visible];
	return chars.length > maxChars ? chars.slice(0, maxChars - 1).join('') + '…' : visible;
}

/** Pick black or white text, whichever reads better on `fill` (WCAG relative luminance). */
export function textColorOn(fill: string): string {
	const c = d3.rgb(fill);
	const lin = (u: number) => ((u /= 255) <= 0.03928 ? u / 12.92 : ((u + 0.055) / 1.055) ** 2.4);
	const L = 0.2126 * lin(c.r) + 0.7152 * lin(c.g) + 0.0722 * lin(c.b);
	return (L + 0.05) / 0.05 >= 1.05 / (L + 0.05) ? '#111' : '#fff';
}
