// Exports of the residual-stream views (DESIGN §11): the attribution report (direct logit attribution
// and logit lens per answer position), the edge table, and the circuit graph of the strong edges
// (nodes laid out by block: embeddings left, logits right) as data and as a standalone SVG.
import type { AttributionResult, PositionAttribution } from '../experiments/attribution';
import type { Edge, EdgeReceiver, EdgeResult } from '../experiments/edges';
import type { HeadRef, Spec } from '../model/spec';
import { toCsv } from './csv';
import type { Provenance } from './provenance';

/** JSON has no NaN or Infinity: such values are written as null (as the head table does). */
const finiteOrNull = (_k: string, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v);

export interface AttributionReport {
	provenance: Provenance;
	/** Text of each answer position's token (the first prompt's that has one), for labels. */
	tokens: string[];
	result: AttributionResult;
	/** Also each prompt's values (default false: the means only). */
	perPrompt?: boolean;
}

/** DESIGN §11's JSON: {"provenance", "positions": [{"index", "token", "n", "logit", "components", "lens"}]} (+ "prompts"). */
export function attributionJson(report: AttributionReport): string {
	const { provenance, tokens, result, perPrompt } = report;
	const positions = result.positions.map((p) => ({ index: p.index, token: tokens[p.index], n: p.n, logit: p.logit, components: p.components, lens: p.lens }));
	const prompts = perPrompt
		? result.prompts.map((p) => ({ index: p.index, logit: p.logit, components: p.components.map((c) => Array.from(c)), logit_diff: p.logitDiff && Array.from(p.logitDiff), lens: p.lens }))
		: undefined;
	return JSON.stringify({ provenance, components: result.names, positions, ...(prompts ? { prompts } : {}) }, finiteOrNull, 2) + '\n';
}

/** One row per answer position and component: position,token,component,logit,logit_diff. */
export function attributionCsv(tokens: readonly string[], positions: readonly PositionAttribution[]): string {
	const rows = positions.flatMap((p) => p.components.map((c) => [p.index, tokens[p.index], c.name, c.logit, c.logit_diff]));
	return toCsv(['position', 'token', 'component', 'logit', 'logit_diff'], rows);
}

/** The components of one position by |share of the logit| (or of the logit difference), largest first. */
export function topComponents(p: PositionAttribution, k: number, by: 'logit' | 'logit_diff' = 'logit') {
	return [...p.components].filter((c) => c.name !== 'constant' && c[by] !== null).sort((a, b) => Math.abs(b[by]!) - Math.abs(a[by]!)).slice(0, k);
}

/** The first layer whose lens ranks the answer first (null: not even the output does). */
export const firstReadableLayer = (p: PositionAttribution): number | null => p.lens.find((l) => l.rank < 1.5)?.layer ?? null;

/** `LlHh` / `MLPl` / `logits`, the names of the circuit graph's nodes and of the edge table's ends. */
export function nodeName(n: HeadRef | EdgeReceiver): string {
	if ('kind' in n && n.kind === 'logits') return 'logits';
	if ('kind' in n && n.kind === 'mlp') return `MLP${n.layer}`;
	const h = n as HeadRef;
	return `L${h.layer}H${h.head}`;
}

export const edgeRows = (edges: readonly Edge[]) => edges.map((e) => ({ sender: nodeName(e.sender), receiver: nodeName(e.receiver), score: e.score }));

/** {"provenance", "n", "clean", "edges": [{"sender", "receiver", "score"}]}, in scan order. */
export function edgesJson(provenance: Provenance, result: EdgeResult): string {
	return JSON.stringify({ provenance, n: result.n, clean: result.clean, edges: edgeRows(result.edges) }, finiteOrNull, 2) + '\n';
}

export const edgesCsv = (edges: readonly Edge[]): string => toCsv(['sender', 'receiver', 'score'], edgeRows(edges).map((e) => [e.sender, e.receiver, e.score]));

// -- the circuit graph ---------------------------------------------------------------------------

export interface GraphNode {
	id: string;
	kind: 'head' | 'mlp' | 'logits';
	layer: number;
	/** Centre, in the graph's own units (width × height). */
	x: number;
	y: number;
}

export interface GraphLink {
	source: string;
	target: string;
	score: number;
}

export interface CircuitGraph {
	nodes: GraphNode[];
	links: GraphLink[];
	width: number;
	height: number;
	threshold: number;
}

const COLUMN = 120;
const ROW = 36;
const MARGIN = 40;

/**
 * The edges with |score| ≥ threshold and the nodes they touch, laid out by block: block l's heads in a
 * column (head order), its MLP below and half a column after them, the logits one column after the last block.
 */
export function circuitGraph(s: Spec, edges: readonly Edge[], threshold: number): CircuitGraph {
	const strong = edges.filter((e) => Math.abs(e.score) >= threshold);
	const nodes = new Map<string, GraphNode>();
	const rows = s.n_heads + (s.attn_only ? 0 : 1);
	// an MLP sits half a column after its block's heads: it reads them (sequential blocks), and its links stay visible
	const place = (id: string, kind: GraphNode['kind'], layer: number, row: number) => {
		if (!nodes.has(id)) nodes.set(id, { id, kind, layer, x: MARGIN + (layer + (kind === 'mlp' ? 0.5 : 0)) * COLUMN, y: MARGIN + row * ROW });
	};
	const add = (n: Edge['sender'] | Edge['receiver']) => {
		if ('kind' in n && n.kind === 'logits') place('logits', 'logits', s.n_layers, (rows - 1) / 2);
		else if ('kind' in n && n.kind === 'mlp') place(nodeName(n), 'mlp', n.layer, s.n_heads);
		else place(nodeName(n), 'head', n.layer, (n as { head: number }).head);
	};
	for (const e of strong) [e.sender, e.receiver].forEach(add);
	const links = strong.map((e) => ({ source: nodeName(e.sender), target: nodeName(e.receiver), score: e.score }));
	return { nodes: [...nodes.values()], links, width: 2 * MARGIN + s.n_layers * COLUMN, height: 2 * MARGIN + (rows - 1) * ROW, threshold };
}

const escapeXml = (t: string) => t.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * The graph as a standalone SVG (what the CLI writes; the dashboard draws the same layout with d3):
 * a link's width grows with |score|, red where the path lowers the answer logit, blue where it raises it.
 */
export function circuitGraphSvg(g: CircuitGraph, title: string): string {
	const at = new Map(g.nodes.map((n) => [n.id, n]));
	const max = g.links.reduce((m, l) => Math.max(m, Math.abs(l.score)), 0) || 1;
	const f = (x: number) => x.toFixed(1);
	const links = g.links.map((l) => {
		const [a, b] = [at.get(l.source)!, at.get(l.target)!];
		const mid = (a.x + b.x) / 2;
		const colour = l.score < 0 ? '#c0392b' : '#2e6fba';
		return `<path d="M${f(a.x)},${f(a.y)} C${f(mid)},${f(a.y)} ${f(mid)},${f(b.y)} ${f(b.x)},${f(b.y)}" fill="none" stroke="${colour}" stroke-opacity="0.75" stroke-width="${f(1 + 5 * (Math.abs(l.score) / max))}"><title>${escapeXml(`${l.source} → ${l.target}: ${l.score.toFixed(4)}`)}</title></path>`;
	});
	const nodes = g.nodes.map((n) => {
		const shape = n.kind === 'head' ? `<circle cx="${f(n.x)}" cy="${f(n.y)}" r="13"/>` : `<rect x="${f(n.x - 22)}" y="${f(n.y - 11)}" width="44" height="22" rx="4"/>`;
		return `<g class="${n.kind}">${shape}<text x="${f(n.x)}" y="${f(n.y + 4)}" text-anchor="middle">${escapeXml(n.id)}</text></g>`;
	});
	return [
		`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 ${-24} ${g.width} ${g.height + 24}" width="${g.width}" height="${g.height + 24}" font-family="sans-serif" font-size="9">`,
		`<text x="4" y="-8" font-size="11">${escapeXml(title)}</text>`,
		`<style>circle,rect{fill:#fff;stroke:#333}.mlp rect{fill:#f3efe0}.logits rect{fill:#e8f0e8}</style>`,
		...links,
		...nodes,
		'</svg>',
		''
	].join('\n');
}
