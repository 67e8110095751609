// Model view (after bertviz): every layer × head attention pattern of one prompt as a thumbnail
// grid, layers as rows and heads as columns like the head map, each thumbnail selectable.
//
// Thumbnails are drawn with one <path> per colour level (weights quantised to `levels` steps of
// the same 0..1 scale as attentionPattern) rather than one <rect> per token pair, so a 12 × 12-head
// model on a 20-token prompt stays a few thousand elements instead of tens of thousands.
import * as d3 from 'd3';
import { nonFiniteFill } from './attentionPattern';
import type { HeadRef } from '../core/model/spec';
import { createTooltip, interactiveGrid, type Grid } from './interaction';
import { FONT_MONO, displayToken, mountSvg, sizeSvg, figureHandle, type FigureHandle, type Target } from './figure';

export interface ModelViewData {
	tokens: readonly string[];
	/** patterns[layer][head][query][key] */
	patterns: readonly (readonly (readonly ArrayLike<number>[])[])[];
}

export interface ModelViewOptions {
	thumbSize: number;
	gap: number;
	causal: boolean;
	interpolator: (t: number) => string;
	levels: number;
	title?: string;
	selected?: HeadRef | null;
	onSelect?: (layer: number, head: number) => void;
}

const MODEL_VIEW_DEFAULTS: ModelViewOptions = {
	thumbSize: 56,
	gap: 8,
	causal: true,
	interpolator: d3.interpolateBlues,
	levels: 16
};

/** Where the head looks most from the last position (the one predicting the next token). */
function lastQuerySummary(tokens: readonly string[], pattern: readonly ArrayLike<number>[]): string {
	const q = pattern.length - 1;
	const row = Array.from(pattern[q] ?? []);
	const k = d3.maxIndex(row); // ignores NaN
	const bad = row.filter((w) => !Number.isFinite(w)).length;
	const note = bad ? `; ${bad} weight${bad === 1 ? ' is' : 's are'} NaN/Inf` : '';
	return k < 0 ? (bad ? `last query: all weights NaN/Inf` : '') : `last query ${JSON.stringify(tokens[q])} → ${JSON.stringify(tokens[k])} (${d3.format('.2f')(row[k])})${note}`;
}

export function modelView(target: Target, data: ModelViewData, options: Partial<ModelViewOptions> = {}): FigureHandle<ModelViewData, ModelViewOptions> {
	const { svg, owned } = mountSvg(target, 'model-view');
	let opts: ModelViewOptions = { ...MODEL_VIEW_DEFAULTS, ...options };
	let grid: Grid | null = null;

	function draw({ tokens, patterns }: ModelViewData) {
		const keep = grid?.focused() ?? null;
		grid?.destroy();
		svg.replaceChildren();
		const L = patterns.length;
		const H = d3.max(patterns, (l) => l.length) ?? 0;
		const T = tokens.length;
		const { thumbSize: ts, gap, levels } = opts;
		const px = ts / Math.max(T, 1);
		const color = d3.scaleSequential(opts.interpolator).domain([0, 1]);
		// colour of each level = the scale at the level's centre
		// NaN/Inf weights get their own hatched level (index `levels`); Math.floor(NaN) would index nothing
		const levelOf = (w: number) => (Number.isFinite(w) ? Math.min(levels - 1, Math.max(0, Math.floor(w * levels))) : levels);
		const titleH = opts.title ? 20 : 0;
		const top = titleH + 30;
		const left = 46;
		const width = left + H * (ts + gap);
		const height = top + L * (ts + gap) + 20;
		sizeSvg(svg, width, height);
		const root = d3
			.select(svg)
			.attr('role', 'grid')
			.attr('aria-label', `${opts.title ?? 'Attention patterns'}: ${L} layers by ${H} heads on ${T} tokens`);
		if (opts.title) root.append('text').attr('y', 13).attr('font-weight', 600).attr('fill', 'currentColor').text(opts.title);
		const axes = root.append('g').attr('aria-hidden', 'true').attr('fill', 'currentColor');
		axes.append('text').attr('x', left).attr('y', titleH + 11).text('head');
		axes
			.selectAll('text.col')
			.data(d3.range(H))
			.join('text')
			.attr('class', 'col')
			.attr('x', (h) => left + h * (ts + gap) + ts / 2)
			.attr('y', top - 6)
			.attr('text-anchor', 'middle')
			.text(String);
		axes.append('text').attr('transform', `translate(12,${top + (L * (ts + gap)) / 2}) rotate(-90)`).attr('text-anchor', 'middle').text('layer');
		axes
			.selectAll('text.row')
			.data(d3.range(L))
			.join('text')
			.attr('class', 'row')
			.attr('x', left - 8)
			.attr('y', (l) => top + l * (ts + gap) + ts / 2)
			.attr('text-anchor', 'end')
			.attr('dominant-baseline', 'central')
			.text(String);
		axes
			.append('text')
			.attr('x', left)
			.attr('y', height - 6)
			.attr('font-family', FONT_MONO)
			.text(`tokens: ${tokens.map((t) => displayToken(t, 6)).join(' ')}`);

		let hatch: string | undefined;
		const rows = root.append('g').selectAll('g').data(patterns).join('g').attr('role', 'row');
		rows.each(function (heads, layer) {
			const thumbs = d3
				.select(this)
				.selectAll('g')
				.data(heads)
				.join('g')
				.attr('role', 'gridcell')
				.attr('data-testid', 'model-view-head')
				.attr('data-layer', layer)
				.attr('data-head', (_, h) => h)
				.attr('aria-selected', (_, h) => (opts.selected ? String(opts.selected.layer === layer && opts.selected.head === h) : null))
				.attr('aria-label', (p, h) => `Layer ${layer}, head ${h}; ${lastQuerySummary(tokens, p)}`)
				.attr('transform', (_, h) => `translate(${left + h * (ts + gap)},${top + layer * (ts + gap)})`);
			thumbs
				.append('rect')
				.attr('width', ts)
				.attr('height', ts)
				.attr('fill', 'none')
				.attr('pointer-events', 'all')
				.attr('stroke', 'currentColor')
				.attr('stroke-opacity', (_, h) => (opts.selected?.layer === layer && opts.selected.head === h ? 1 : 0.25))
				.attr('stroke-width', (_, h) => (opts.selected?.layer === layer && opts.selected.head === h ? 2 : 1));
			thumbs.each(function (pattern) {
				const paths = Array.from({ length: levels + 1 }, () => [] as string[]);
				const r = (v: number) => +v.toFixed(2);
				for (let q = 0; q < T; q++)
					for (let k = 0; k < (opts.causal ? q + 1 : T); k++)
						paths[levelOf(pattern[q]?.[k] ?? 0)].push(`M${r(k * px)},${r(q * px)}h${r(px)}v${r(px)}h${r(-px)}z`);
				d3.select(this)
					.selectAll('path')
					.data(paths.map((d, i) => ({ d, i })).filter((p) => p.d.length))
					.join('path')
					.attr('pointer-events', 'none')
					.attr('data-nonfinite', (p) => (p.i === levels ? 'true' : null))
					.attr('fill', (p) => (p.i === levels ? (hatch ??= nonFiniteFill(root)) : color((p.i + 0.5) / levels)))
					.attr('d', (p) => p.d.join(''));
			});
		});

		const tooltip = createTooltip(svg, () => ({ width, height }));
		const pos = (c: Element): [number, number] => [Number(c.getAttribute('data-layer')), Number(c.getAttribute('data-head'))];
		grid = interactiveGrid(svg, tooltip, {
			selector: '[data-testid="model-view-head"]',
			position: pos,
			box: (c) => {
				const [l, h] = pos(c);
				return { x: left + h * (ts + gap), y: top + l * (ts + gap), width: ts, height: ts };
			},
			describe: (c) => {
				const [l, h] = pos(c);
				return [`Layer ${l}, head ${h}`, lastQuerySummary(tokens, patterns[l][h]), 'click or Enter to open'];
			},
			onActivate: (c) => opts.onSelect?.(...pos(c))
		});
		if (keep) grid.focusAt(...keep);
	}

	draw(data);
	return figureHandle(svg, owned, draw, (o) => (opts = { ...opts, ...o }), () => grid?.destroy());
}
