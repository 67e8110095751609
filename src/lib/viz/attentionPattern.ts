// Token × token attention matrix of one head on one prompt (a `hook_pattern` slice [query, key]).
//
// Query tokens label the rows, key tokens the columns. Weights use a sequential single-hue scale
// over the fixed range 0..1 (ColorBrewer Blues, colour-blind safe), so two heads' matrices compare
// by colour. In a causal model a query never sees later keys: those cells are not drawn at all, so
// the upper triangle stays empty inside the matrix frame instead of reading as weight 0.
import * as d3 from 'd3';
import { colorRamp } from './legend';
import { createTooltip, interactiveGrid, rectBox, type Grid } from './interaction';
import { FONT_MONO, displayToken, mountSvg, sizeSvg, textWidth, figureHandle, type FigureHandle, type Target } from './figure';

export interface AttentionPatternData {
	tokens: readonly string[];
	/** pattern[query][key], rows sum to 1 over the visible keys */
	pattern: readonly ArrayLike<number>[];
}

export interface AttentionPatternOptions {
	cellSize: number;
	causal: boolean;
	interpolator: (t: number) => string;
	title?: string;
	/** token labels longer than this are cut with an ellipsis */
	maxTokenChars: number;
}

const ATTENTION_PATTERN_DEFAULTS: AttentionPatternOptions = {
	cellSize: 20,
	causal: true,
	interpolator: d3.interpolateBlues,
	maxTokenChars: 8
};

const quote = (t: string) => JSON.stringify(t);

/** A weight as the tooltip says it: NaN and ±Inf by name (d3.format would print 'NaN' / '∞' inconsistently). */
export const weightText = (w: number): string => (Number.isFinite(w) ? d3.format('.3f')(w) : Number.isNaN(w) ? 'NaN' : w > 0 ? '+Inf' : '-Inf');

let hatches = 0;
/**
 * Fill for weights that are not numbers (a model with NaN/Inf activations): grey with diagonal
 * hatching, defined once per drawing, so such a cell reads as "no value" rather than as weight 0 or 1.
 */
export function nonFiniteFill(root: d3.Selection<SVGSVGElement, unknown, null, undefined>): string {
	const id = `arithlens-nonfinite-${++hatches}`;
	const pat = root.append('defs').append('pattern').attr('id', id).attr('patternUnits', 'userSpaceOnUse').attr('width', 6).attr('height', 6).attr('patternTransform', 'rotate(45)');
	pat.append('rect').attr('width', 6).attr('height', 6).attr('fill', '#b0b0b0');
	pat.append('line').attr('x1', 0).attr('y1', 0).attr('x2', 0).attr('y2', 6).attr('stroke', '#555').attr('stroke-width', 2);
	return `url(#${id})`;
}

export function attentionPattern(
	target: Target,
	data: AttentionPatternData,
	options: Partial<AttentionPatternOptions> = {}
): FigureHandle<AttentionPatternData, AttentionPatternOptions> {
	const { svg, owned } = mountSvg(target, 'attention-pattern');
	let opts: AttentionPatternOptions = { ...ATTENTION_PATTERN_DEFAULTS, ...options };
	let grid: Grid | null = null;

	function draw({ tokens, pattern }: AttentionPatternData) {
		const keep = grid?.focused() ?? null;
		grid?.destroy();
		svg.replaceChildren();
		const T = tokens.length;
		const cs = opts.cellSize;
		const color = d3.scaleSequential(opts.interpolator).domain([0, 1]).clamp(true);
		const labels = tokens.map((t) => displayToken(t, opts.maxTokenChars));
		const longest = d3.max(labels, (l) => textWidth(l, 11, true)) ?? 0;
		// keys above the matrix: upright when tokens are a character or two, else rotated
		const rotateKeys = longest > cs - 4;
		const titleH = opts.title ? 20 : 0;
		const top = titleH + 18 + (rotateKeys ? longest + 4 : 14);
		const left = 18 + longest + 8;
		const size = T * cs;
		const width = Math.max(left + size + 8, left + 200);
		const height = top + size + 54;
		sizeSvg(svg, width, height);
		const root = d3
			.select(svg)
			.attr('role', 'grid')
			.attr('aria-label', `${opts.title ?? 'Attention pattern'}: ${T} query tokens (rows) by ${T} key tokens (columns)`);
		if (opts.title) root.append('text').attr('y', 13).attr('font-weight', 600).attr('fill', 'currentColor').text(opts.title);

		const axes = root.append('g').attr('aria-hidden', 'true').attr('fill', 'currentColor');
		axes.append('text').attr('x', left).attr('y', titleH + 11).text('key →');
		axes
			.append('text')
			.attr('transform', `translate(10,${top}) rotate(-90)`)
			.attr('text-anchor', 'end')
			.text('query →');
		const mono = axes.append('g').attr('font-family', FONT_MONO);
		const keyLabels = mono
			.selectAll('text.key')
			.data(labels)
			.join('text')
			.attr('class', 'key')
			.text((l) => l);
		if (rotateKeys)
			keyLabels.attr('transform', (_, k) => `translate(${left + k * cs + cs / 2},${top - 5}) rotate(-90)`).attr('dominant-baseline', 'central');
		else keyLabels.attr('x', (_, k) => left + k * cs + cs / 2).attr('y', top - 5).attr('text-anchor', 'middle');
		mono
			.selectAll('text.query')
			.data(labels)
			.join('text')
			.attr('class', 'query')
			.attr('x', left - 5)
			.attr('y', (_, q) => top + q * cs + cs / 2)
			.attr('text-anchor', 'end')
			.attr('dominant-baseline', 'central')
			.text((l) => l);

		// frame of the whole T × T square, so the empty causal triangle reads as part of the matrix
		root
			.append('rect')
			.attr('aria-hidden', 'true')
			.attr('x', left - 0.5)
			.attr('y', top - 0.5)
			.attr('width', size + 1)
			.attr('height', size + 1)
			.attr('fill', 'none')
			.attr('stroke', 'currentColor')
			.attr('stroke-opacity', 0.3);
		const describe = (q: number, k: number) => [
			`query ${q} ${quote(tokens[q])}`,
			`key ${k} ${quote(tokens[k])}`,
			`weight ${weightText(pattern[q][k])}`
		];
		const anyNonFinite = pattern.some((row) => Array.prototype.some.call(row, (w: number) => !Number.isFinite(w)));
		const hatch = anyNonFinite ? nonFiniteFill(root) : '';
		const fill = (w: number) => (Number.isFinite(w) ? color(w) : hatch);
		root
			.append('g')
			.selectAll('g')
			.data(d3.range(T))
			.join('g')
			.attr('role', 'row')
			.each(function (q) {
				const keys = d3.range(opts.causal ? q + 1 : T);
				d3.select(this)
					.selectAll('rect')
					.data(keys)
					.join('rect')
					.attr('data-testid', 'attention-cell')
					.attr('role', 'gridcell')
					.attr('data-query', q)
					.attr('data-key', (k) => k)
					.attr('data-weight', (k) => String(pattern[q][k]))
					.attr('x', (k) => left + k * cs)
					.attr('y', top + q * cs)
					.attr('width', cs)
					.attr('height', cs)
					.attr('fill', (k) => fill(pattern[q][k]))
					.attr('aria-label', (k) => describe(q, k).join(', '));
			});

		colorRamp(root.append('g'), color, {
			x: left,
			y: top + size + 26,
			length: Math.min(Math.max(size, 120), 200),
			thickness: 8,
			orientation: 'horizontal',
			ticks: [0, 0.5, 1],
			title: 'attention weight'
		});

		const tooltip = createTooltip(svg, () => ({ width, height }));
		grid = interactiveGrid(svg, tooltip, {
			selector: '[data-testid="attention-cell"]',
			position: (c) => [Number(c.getAttribute('data-query')), Number(c.getAttribute('data-key'))],
			box: rectBox,
			describe: (c) => describe(Number(c.getAttribute('data-query')), Number(c.getAttribute('data-key')))
		});
		if (keep) grid.focusAt(...keep);
	}

	draw(data);
	return figureHandle(svg, owned, draw, (o) => (opts = { ...opts, ...o }), () => grid?.destroy());
}
