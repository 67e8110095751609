// The circuit graph of head-to-head path patching: nodes (heads, MLPs, the logits) where core's
// circuitGraph placed them (by block, embeddings left, logits right), links for the edges above the
// threshold. A link's width grows with |score|; red where the path lowers the answer logit (carries
// the answer), blue where it raises it, matching the head map's diverging scheme. Heads are buttons:
// click or Enter selects the head everywhere on the page.
import * as d3 from 'd3';
import type { CircuitGraph, GraphNode } from '../core/export/residual';
import type { HeadRef } from '../core/model/spec';
import { figureHandle, formatNumber, mountSvg, sizeSvg, THEME, type FigureHandle, type Target } from './figure';

export interface CircuitGraphOptions {
	title?: string;
	selected?: HeadRef | null;
	onSelect?: (layer: number, head: number) => void;
	/** colour of a link of score t in [-1, 1] (normalised by the largest |score|) */
	colour: (t: number) => string;
}

const DEFAULTS: CircuitGraphOptions = {
	colour: (t) => d3.interpolateRdBu(0.5 + 0.5 * Math.max(-1, Math.min(1, t)))
};

const TOP = 28;

const headOf = (n: GraphNode): HeadRef | null => {
	const m = /^L(\d+)H(\d+)$/.exec(n.id);
	return m ? { layer: Number(m[1]), head: Number(m[2]) } : null;
};

export function circuitGraphFigure(target: Target, data: CircuitGraph, options: Partial<CircuitGraphOptions> = {}): FigureHandle<CircuitGraph, CircuitGraphOptions> {
	const { svg, owned } = mountSvg(target, 'circuit-graph');
	let opts: CircuitGraphOptions = { ...DEFAULTS, ...options };

	function draw(g: CircuitGraph) {
		svg.replaceChildren();
		sizeSvg(svg, g.width, g.height + TOP);
		const root = d3.select(svg).attr('role', 'group').attr('aria-label', `${opts.title ?? 'Circuit graph'}: ${g.nodes.length} nodes, ${g.links.length} edges with |score| ≥ ${g.threshold}`);
		if (opts.title) root.append('text').attr('x', 4).attr('y', 14).attr('font-weight', 600).text(opts.title);
		const plot = root.append('g').attr('transform', `translate(0,${TOP})`);
		if (!g.links.length) {
			plot.append('text').attr('x', 4).attr('y', 20).text(`No edge reaches |score| ≥ ${g.threshold}.`);
			return;
		}
		const at = new Map(g.nodes.map((n) => [n.id, n]));
		const max = d3.max(g.links, (l) => Math.abs(l.score)) || 1;
		plot
			.append('g')
			.attr('fill', 'none')
			.selectAll('path')
			.data(g.links)
			.join('path')
			.attr('class', 'edge')
			.attr('data-source', (l) => l.source)
			.attr('data-target', (l) => l.target)
			.attr('data-score', (l) => l.score)
			.attr('d', (l) => {
				const [a, b] = [at.get(l.source)!, at.get(l.target)!];
				const mid = (a.x + b.x) / 2;
				return `M${a.x},${a.y} C${mid},${a.y} ${mid},${b.y} ${b.x},${b.y}`;
			})
			.attr('stroke', (l) => opts.colour(l.score / max))
			.attr('stroke-opacity', 0.85)
			.attr('stroke-width', (l) => 1 + 5 * (Math.abs(l.score) / max))
			.append('title')
			.text((l) => `${l.source} → ${l.target}: ${formatNumber(l.score)}`);
		const node = plot
			.append('g')
			.selectAll('g')
			.data(g.nodes)
			.join('g')
			.attr('class', (n) => `node ${n.kind}`)
			.attr('data-node', (n) => n.id)
			.attr('transform', (n) => `translate(${n.x},${n.y})`);
		const selected = (n: GraphNode) => {
			const h = headOf(n);
			return !!h && h.layer === opts.selected?.layer && h.head === opts.selected.head;
		};
		node
			.filter((n) => n.kind === 'head')
			.append('circle')
			.attr('r', 13)
			.attr('fill', THEME.background)
			.attr('stroke', 'currentColor')
			.attr('stroke-width', (n) => (selected(n) ? 3 : 1));
		node
			.filter((n) => n.kind !== 'head')
			.append('rect')
			.attr('x', -22)
			.attr('y', -11)
			.attr('width', 44)
			.attr('height', 22)
			.attr('rx', 4)
			.attr('fill', THEME.background)
			.attr('stroke', 'currentColor');
		node.append('text').attr('text-anchor', 'middle').attr('dy', '0.35em').attr('font-size', 9).attr('fill', 'currentColor').text((n) => n.id);
		node
			.filter((n) => n.kind === 'head')
			.attr('role', 'button')
			.attr('tabindex', 0)
			.attr('aria-pressed', (n) => String(selected(n)))
			.attr('aria-label', (n) => `select head ${n.id}`)
			.style('cursor', 'pointer')
			.on('click', (_e, n) => pick(n))
			.on('keydown', (e: KeyboardEvent, n) => {
				if (e.key !== 'Enter' && e.key !== ' ') return;
				e.preventDefault();
				pick(n);
			});
	}

	function pick(n: GraphNode) {
		const h = headOf(n);
		if (h) opts.onSelect?.(h.layer, h.head);
	}

	draw(data);
	return figureHandle(svg, owned, draw, (o) => (opts = { ...opts, ...o }), () => {});
}
