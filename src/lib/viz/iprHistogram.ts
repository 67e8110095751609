// Histogram of the neurons' IPR on a log axis (DESIGN §10: memorizing neurons low, generalizing ones
// high), with the threshold χ as a vertical line whose handle can be dragged (or moved with the arrow
// keys): the line follows the pointer while dragging, and onThreshold fires once, on release, so the
// caller prunes once per choice rather than once per pixel.
import * as d3 from 'd3';
import { formatNumber, mountSvg, sizeSvg, figureHandle, THEME, type FigureHandle, type Target } from './figure';

export interface IprHistogramData {
	/** IPR of each neuron; non-finite values (dead neurons) are left out */
	iprs: readonly number[];
	threshold: number | null;
}

export interface IprHistogramOptions {
	width: number;
	height: number;
	bins: number;
	title: string;
	belowColor: string;
	aboveColor: string;
	format: (v: number) => string;
	/** χ chosen: the handle was released (or moved with the keyboard) */
	onThreshold?: (value: number) => void;
}

const DEFAULTS: IprHistogramOptions = {
	width: 480,
	height: 220,
	bins: 40,
	title: '',
	belowColor: '#d6604d',
	aboveColor: '#4393c3',
	format: formatNumber
};

export function iprHistogram(target: Target, data: IprHistogramData, options: Partial<IprHistogramOptions> = {}): FigureHandle<IprHistogramData, IprHistogramOptions> {
	let o: IprHistogramOptions = { ...DEFAULTS, ...options };
	const { svg, owned } = mountSvg(target, 'ipr-histogram');
	const root = d3.select(svg);

	function draw(d: IprHistogramData) {
		svg.replaceChildren();
		const margin = { top: o.title ? 24 : 10, right: 16, bottom: 36, left: 42 };
		const [w, h] = [o.width - margin.left - margin.right, o.height - margin.top - margin.bottom];
		sizeSvg(svg, o.width, o.height);
		const logs = d.iprs.filter((v) => Number.isFinite(v) && v > 0).map(Math.log10);
		root.attr('role', 'group').attr('aria-label', `IPR histogram of ${logs.length} neurons`).attr('data-n', logs.length);
		if (o.title) root.append('text').attr('x', margin.left).attr('y', 15).attr('font-weight', 600).attr('fill', 'currentColor').text(o.title);
		const chi = d.threshold !== null && d.threshold > 0 ? Math.log10(d.threshold) : null;
		const ext = d3.extent(chi === null ? logs : [...logs, chi]) as [number, number];
		const lo = Math.floor((ext[0] ?? -4) * 4) / 4;
		const hi = Math.max(lo + 0.25, Math.min(0, Math.ceil((ext[1] ?? 0) * 4) / 4) || 0);
		const x = d3.scaleLinear().domain([lo, hi]).range([0, w]);
		const bins = d3.bin().domain([lo, hi]).thresholds(d3.range(lo, hi, (hi - lo) / o.bins))(logs);
		const y = d3.scaleLinear().domain([0, d3.max(bins, (b) => b.length) || 1]).nice().range([h, 0]);
		const g = root.append('g').attr('transform', `translate(${margin.left},${margin.top})`);
		const decades = d3.range(Math.ceil(lo), Math.floor(hi) + 1); // ticks at powers of ten
		const bars = g.append('g').selectAll('rect').data(bins).join('rect')
			.attr('x', (b) => x(b.x0!) + 0.5)
			.attr('width', (b) => Math.max(0, x(b.x1!) - x(b.x0!) - 1))
			.attr('y', (b) => y(b.length))
			.attr('height', (b) => h - y(b.length))
			.attr('data-count', (b) => b.length);
		const colorBars = (c: number | null) => bars.attr('fill', (b) => (c !== null && b.x1! <= c ? o.belowColor : o.aboveColor));
		colorBars(chi);
		g.append('g').attr('transform', `translate(0,${h})`).call(d3.axisBottom(x).tickValues(decades.length >= 2 ? decades : x.ticks(4)).tickFormat((v) => o.format(10 ** +v)));
		g.append('g').call(d3.axisLeft(y).ticks(4));
		g.append('text').attr('x', w / 2).attr('y', h + 30).attr('text-anchor', 'middle').attr('fill', 'currentColor').text('IPR (log scale)');
		if (chi === null) return;
		const line = g.append('g').attr('transform', `translate(${x(chi)},0)`).attr('data-testid', 'ipr-threshold').attr('data-value', d.threshold);
		line.append('line').attr('y1', -4).attr('y2', h).attr('stroke', THEME.accent).attr('stroke-width', 2);
		const label = line.append('text').attr('x', 4).attr('y', 8).attr('font-size', 10).attr('fill', 'currentColor').text(`χ = ${o.format(d.threshold!)}`);
		const handle = line.append('rect')
			.attr('x', -6).attr('y', -6).attr('width', 12).attr('height', h + 6).attr('fill', 'transparent').attr('cursor', 'ew-resize')
			.attr('data-testid', 'ipr-threshold-handle').attr('tabindex', 0).attr('role', 'slider')
			.attr('aria-label', 'Threshold χ').attr('aria-valuemin', 10 ** lo).attr('aria-valuemax', 10 ** hi).attr('aria-valuenow', d.threshold);
		let at = chi;
		const move = (v: number) => {
			at = Math.max(lo, Math.min(hi, v));
			line.attr('transform', `translate(${x(at)},0)`);
			label.text(`χ = ${o.format(10 ** at)}`);
			colorBars(at);
		};
		handle.call(
			d3.drag<SVGRectElement, unknown>()
				.container(g.node()!)
				.on('drag', (e) => move(x.invert(e.x)))
				.on('end', () => o.onThreshold?.(10 ** at))
		);
		handle.on('keydown', (e: KeyboardEvent) => {
			const step = (hi - lo) / 50;
			if (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight') return;
			e.preventDefault();
			move(at + (e.key === 'ArrowRight' ? step : -step));
			o.onThreshold?.(10 ** at);
		});
	}

	draw(data);
	return figureHandle(svg, owned, draw, (next) => (o = { ...o, ...next }), () => undefined);
}
