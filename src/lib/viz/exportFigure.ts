// Export a rendered figure: a standalone SVG string (styles inlined, explicit size, xmlns) and a
// PNG Blob rasterised on an OffscreenCanvas (browsers only).
//
// Figures theme themselves through the page (currentColor, var(--viz-*)), which a standalone file
// no longer has, so every paint and font property is resolved on the live element and written
// onto the copy. Browsers compute SVG presentation attributes into getComputedStyle; DOMs that
// do not (jsdom) get the declared attribute/style value with currentColor and var() resolved
// against the live element's computed `color` and custom properties instead.
import { SCREEN_ONLY, SVG_NS } from './figure';

/** Properties a figure's look depends on; inherited ones are written only where they change. */
const INHERITED = [
	'color',
	'fill',
	'fill-opacity',
	'stroke',
	'stroke-width',
	'stroke-opacity',
	'stroke-dasharray',
	'stroke-linejoin',
	'font-family',
	'font-size',
	'font-weight',
	'text-anchor',
	'dominant-baseline',
	'visibility'
] as const;
const NOT_INHERITED: Record<string, string> = { opacity: '1' };

export interface ExportOptions {
	/** 'auto': the first opaque background among the figure's ancestors (else white for PNG and
	 * none for SVG), 'none', or any CSS colour */
	background?: string;
}

export interface PngOptions extends ExportOptions {
	/** device pixels per CSS pixel */
	scale?: number;
}

function computes(svg: SVGSVGElement, view: Window): boolean {
	// does this DOM fold presentation attributes into computed style?
	const probe = svg.ownerDocument.createElementNS(SVG_NS, 'rect');
	probe.setAttribute('fill', 'rgb(1, 2, 3)');
	svg.appendChild(probe);
	const ok = view.getComputedStyle(probe).getPropertyValue('fill').replace(/\s/g, '') === 'rgb(1,2,3)';
	probe.remove();
	return ok;
}

/** Replace var(--x, fallback) and currentColor using the element's computed style. */
function resolve(value: string, style: CSSStyleDeclaration): string {
	let v = value;
	for (let i = 0; i < 8 && v.includes('var('); i++)
		v = v.replace(/var\(\s*(--[\w-]+)\s*(?:,\s*([^()]*(?:\([^()]*\)[^()]*)*))?\)/g, (_, name: string, fallback?: string) => {
			const own = style.getPropertyValue(name).trim();
			return own || (fallback ?? '').trim();
		});
	return v.replace(/currentcolor/gi, style.getPropertyValue('color') || 'black');
}

function backgroundOf(el: Element, view: Window): string | null {
	for (let e: Element | null = el; e; e = e.parentElement) {
		const bg = view.getComputedStyle(e).getPropertyValue('background-color').replace(/\s/g, '');
		if (bg && bg !== 'transparent' && !/^rgba\(.*,0\)$/.test(bg)) return view.getComputedStyle(e).getPropertyValue('background-color');
	}
	return null;
}

function size(svg: SVGSVGElement): { width: number; height: number } {
	const attr = (a: string) => Number.parseFloat(svg.getAttribute(a) ?? '');
	let width = attr('width');
	let height = attr('height');
	const vb = (svg.getAttribute('viewBox') ?? '').split(/[\s,]+/).map(Number);
	if (!(width > 0) && vb.length === 4) [width, height] = [vb[2], vb[3]];
	if (!(width > 0)) ({ width, height } = svg.getBoundingClientRect());
	return { width: Math.ceil(width) || 300, height: Math.ceil(height) || 150 };
}

/** The figure as a standalone SVG document string. */
export function svgToString(svg: SVGSVGElement, options: ExportOptions = {}): string {
	const doc = svg.ownerDocument;
	const view = doc.defaultView;
	if (!view) throw new Error('svgToString: the svg must belong to a document with a window (a browser page or jsdom)');
	const copy = svg.cloneNode(true) as SVGSVGElement;
	const live = [svg, ...Array.from(svg.querySelectorAll('*'))];
	const clone = [copy, ...Array.from(copy.querySelectorAll('*'))];
	const trusted = computes(svg, view);
	const resolved = new Map<Element, Record<string, string>>();
	live.forEach((el, i) => {
		const out = clone[i];
		const cs = view.getComputedStyle(el);
		const parent = el === svg ? undefined : resolved.get(el.parentElement!);
		const mine: Record<string, string> = {};
		const style: string[] = [];
		for (const p of INHERITED) {
			const declared = (el as SVGElement).style?.getPropertyValue(p) || el.getAttribute(p) || '';
			const computed = cs.getPropertyValue(p);
			const raw = trusted || (!declared && p === 'color') || (el === svg && !declared) ? computed || declared : declared;
			// a unitless font-size is valid as an attribute but not in CSS
			const v = raw ? resolve(raw, cs).replace(/^([\d.]+)$/, p === 'font-size' ? '$1px' : '$1') : (parent?.[p] ?? '');
			mine[p] = v;
			out.removeAttribute(p);
			if (v && (el === svg || v !== parent?.[p])) style.push(`${p}: ${v}`);
		}
		for (const [p, initial] of Object.entries(NOT_INHERITED)) {
			const declared = (el as SVGElement).style?.getPropertyValue(p) || el.getAttribute(p) || '';
			const v = trusted ? cs.getPropertyValue(p) : declared;
			out.removeAttribute(p);
			if (v && v !== initial) style.push(`${p}: ${v}`);
		}
		resolved.set(el, mine);
		if (style.length) out.setAttribute('style', style.join('; '));
		else out.removeAttribute('style');
	});
	for (const el of Array.from(copy.querySelectorAll(`[${SCREEN_ONLY}]`))) el.remove();
	for (const el of [copy, ...Array.from(copy.querySelectorAll('[tabindex]'))]) el.removeAttribute('tabindex');
	const { width, height } = size(svg);
	copy.setAttributeNS('http://www.w3.org/2000/xmlns/', 'xmlns', SVG_NS);
	copy.setAttribute('width', String(width));
	copy.setAttribute('height', String(height));
	if (!copy.getAttribute('viewBox')) copy.setAttribute('viewBox', `0 0 ${width} ${height}`);
	const bg = options.background ?? 'auto';
	const fill = bg === 'auto' ? backgroundOf(svg.parentElement ?? svg, view) : bg === 'none' ? null : bg;
	if (fill) {
		const rect = doc.createElementNS(SVG_NS, 'rect');
		rect.setAttribute('width', '100%');
		rect.setAttribute('height', '100%');
		rect.setAttribute('fill', fill);
		copy.insertBefore(rect, copy.firstChild);
	}
	return '<?xml version="1.0" encoding="UTF-8"?>\n' + new view.XMLSerializer().serializeToString(copy);
}

export function svgToBlob(svg: SVGSVGElement, options: ExportOptions = {}): Blob {
	return new Blob([svgToString(svg, options)], { type: 'image/svg+xml' });
}

/** The figure as a PNG, drawn by the browser on an OffscreenCanvas. Rejects outside a browser. */
export async function svgToPngBlob(svg: SVGSVGElement, options: PngOptions = {}): Promise<Blob> {
	const g = globalThis as typeof globalThis & { OffscreenCanvas?: typeof OffscreenCanvas; Image?: typeof Image };
	if (typeof g.OffscreenCanvas !== 'function' || typeof g.Image !== 'function' || typeof URL.createObjectURL !== 'function')
		throw new Error('svgToPngBlob needs a browser (Image, OffscreenCanvas, URL.createObjectURL); use svgToString elsewhere');
	const scale = options.scale ?? 2;
	const view = svg.ownerDocument.defaultView!;
	const background = options.background ?? 'auto';
	const fill = background === 'auto' ? (backgroundOf(svg.parentElement ?? svg, view) ?? 'white') : background;
	const { width, height } = size(svg);
	const url = URL.createObjectURL(new Blob([svgToString(svg, { background: fill })], { type: 'image/svg+xml' }));
	try {
		const img = new g.Image();
		img.src = url;
		await img.decode();
		const canvas = new g.OffscreenCanvas(Math.round(width * scale), Math.round(height * scale));
		const ctx = canvas.getContext('2d');
		if (!ctx) throw new Error('svgToPngBlob: no 2d context on OffscreenCanvas');
		ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
		return await canvas.convertToBlob({ type: 'image/png' });
	} finally {
		URL.revokeObjectURL(url);
	}
}
