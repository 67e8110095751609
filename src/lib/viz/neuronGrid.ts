// A p × p heat map of one neuron (DESIGN §10): its activation grid A[a][b] over every operand pair,
// or its Fourier spectrum |F[ka][kb]|, for any p. Rows are a (or ka) top to bottom, columns b (kb).
// The cells are rects of one row-major array (p² ≤ ~10⁴ at p = 97), so SVG and PNG exports are the
// figure as drawn; a readout under the map names the hovered cell and its value.
import * as d3 from 'd3';
import { colorRamp } from './legend';
import { formatNumber, mountSvg, sizeSvg, figureHandle, SVG_NS, type FigureHandle, type Target } from './figure';

export interface NeuronGridData {
	p: number;
	/** values[row * p + col] */
	values: ArrayLike<number>;
}

export interface NeuronGridOptions {
	/** side of the map in px (cells are size / p) */
	size: number;
	interpolator: (t: number) => string;
	/** diverging: colour domain symmetric about 0 (activations); else 0..max (magnitudes) */
	diverging: boolean;
	/**
	 * Magnitudes on a log colour scale over LOG_DECADES decades below the largest (smaller ones take the
	 * lowest colour): a spectrum's few strong frequencies no longer wash out the rest.
	 */
	log: boolean;
	title: string;
	rowLabel: string;
	colLabel: string;
	valueLabel: string;
	/** the figure's test id */
	testId: string;
	format: (v: number) => string;
}

const DEFAULTS: NeuronGridOptions = {
	size: 300,
	interpolator: d3.interpolateBlues,
	diverging: false,
	log: false,
	title: '',
	rowLabel: 'a',
	colLabel: 'b',
	valueLabel: 'value',
	testId: 'neuron-grid',
	format: formatNumber
};

/** Decades the log scale shows below the largest magnitude. */
export const LOG_DECADES = 3;

export function neuronGrid(target: Target, data: NeuronGridData, options: Partial<NeuronGridOptions> = {}): FigureHandle<NeuronGridData, NeuronGridOptions> {
	let o: NeuronGridOptions = { ...DEFAULTS, ...options };
	const { svg, owned } = mountSvg(target, o.testId);
	const root = d3.select(svg);

	function draw(d: NeuronGridData) {
		svg.replaceChildren();
		root.attr('data-testid', o.testId);
		const { p, values } = d;
		const margin = { top: o.title ? 22 : 6, left: 30, right: 70, bottom: 44 };
		const cell = o.size / Math.max(1, p);
		let lo = Infinity;
		let hi = -Infinity;
		for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i])) [lo, hi] = [Math.min(lo, values[i]), Math.max(hi, values[i])];
		if (!Number.isFinite(lo)) [lo, hi] = [0, 0];
		const m = Math.max(Math.abs(lo), Math.abs(hi)) || 1;
		const log = o.log && !o.diverging && hi > 0;
		const top = log ? Math.log10(hi) : 0;
		// on the log scale the colour (and the ramp) is linear in log10 of the value
		const shown = (v: number) => (log ? Math.max(Math.log10(Math.max(v, 0)), top - LOG_DECADES) : v);
		const domain: [number, number] = log ? [top - LOG_DECADES, top] : o.diverging ? [-m, m] : [Math.min(0, lo), hi || 1];
		const color = (v: number) => o.interpolator((shown(v) - domain[0]) / (domain[1] - domain[0]));
		const rampColor = (t: number) => o.interpolator((t - domain[0]) / (domain[1] - domain[0]));
		sizeSvg(svg, margin.left + o.size + margin.right, margin.top + o.size + margin.bottom);
		root.attr('role', 'img').attr('aria-label', `${o.title || o.valueLabel}: ${p} × ${p} map${log ? ', log scale' : ''}`).attr('data-p', p).attr('data-min', lo).attr('data-max', hi).attr('data-scale', log ? 'log' : 'linear');
		if (o.title) root.append('text').attr('x', margin.left).attr('y', 14).attr('font-weight', 600).attr('fill', 'currentColor').text(o.title);
		const g = root.append('g').attr('transform', `translate(${margin.left},${margin.top})`);
		const cells = g.append('g').attr('shape-rendering', 'crispEdges');
		const w = +(cell + 0.05).toFixed(3);
		for (let r = 0; r < p; r++)
			for (let c = 0; c < p; c++) {
				const v = values[r * p + c];
				const rect = svg.ownerDocument.createElementNS(SVG_NS, 'rect');
				rect.setAttribute('x', (c * cell).toFixed(2));
				rect.setAttribute('y', (r * cell).toFixed(2));
				rect.setAttribute('width', String(w));
				rect.setAttribute('height', String(w));
				rect.setAttribute('fill', Number.isFinite(v) ? color(v) : 'none');
				cells.node()!.appendChild(rect);
			}
		const ticks = d3.ticks(0, p - 1, Math.min(6, p)).filter(Number.isInteger);
		const axis = d3.scaleLinear().domain([0, p]).range([0, o.size]);
		g.append('g').attr('transform', `translate(0,${o.size})`).call(d3.axisBottom(axis).tickValues(ticks.map((t) => t + 0.5)).tickFormat((_, i) => String(ticks[i])).tickSizeOuter(0));
		g.append('g').call(d3.axisLeft(axis).tickValues(ticks.map((t) => t + 0.5)).tickFormat((_, i) => String(ticks[i])).tickSizeOuter(0));
		g.append('text').attr('x', o.size / 2).attr('y', o.size + 30).attr('text-anchor', 'middle').attr('fill', 'currentColor').text(o.colLabel);
		g.append('text').attr('transform', `translate(-22,${o.size / 2}) rotate(-90)`).attr('text-anchor', 'middle').attr('fill', 'currentColor').text(o.rowLabel);
		colorRamp(g, rampColor, { x: o.size + 12, y: 14, length: o.size - 28, ticks: [domain[0], domain[1]], format: log ? (t) => o.format(10 ** t) : o.format, title: o.valueLabel });
		const readout = g.append('text').attr('data-screen-only', '').attr('x', 0).attr('y', o.size + 42).attr('font-size', 10).attr('fill', 'currentColor');
		// one hit area for the whole map: the cell under the pointer is read from its coordinates
		g.append('rect')
			.attr('data-screen-only', '')
			.attr('width', o.size)
			.attr('height', o.size)
			.attr('fill', 'transparent')
			.on('mousemove', (e: MouseEvent) => {
				const [x, y] = d3.pointer(e);
				const [r, c] = [Math.min(p - 1, Math.floor(y / cell)), Math.min(p - 1, Math.floor(x / cell))];
				readout.text(`${o.rowLabel} ${r}, ${o.colLabel} ${c}: ${o.format(values[r * p + c])}`);
			})
			.on('mouseleave', () => readout.text(''));
	}

	draw(data);
	return figureHandle(svg, owned, draw, (next) => (o = { ...o, ...next }), () => undefined);
}
