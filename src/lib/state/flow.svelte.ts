// The residual-stream views of the Flow panel (DESIGN §11): direct logit attribution and the logit
// lens (cheap: one attributing forward per batch, measured with every scan), and the head-to-head
// edges (costly: senders × receivers × prompts rows, measured on request), each with the prompt set
// it was measured on, progress and cancel.
import { makeProvenance } from '$lib/core/export/provenance';
import { circuitGraph, edgeRows, edgesCsv, edgesJson, topComponents, type CircuitGraph } from '$lib/core/export/residual';
import type { Spec } from '$lib/core/model/spec';
import type { PromptRecord } from '$lib/core/tasks';
import type { EngineClient } from '$lib/workers/engineClient';
import type { AttributionView, EdgesView, ScanProgress } from '$lib/workers/protocol';
import { Measured } from './measured.svelte';
import type { ScanProvenance } from './scan.svelte';

export type AttributionTarget = 'logit' | 'logit_diff';

export class FlowState {
	readonly attribution = new Measured<AttributionView>();
	readonly edges = new Measured<EdgesView>();
	/** Answer position the map shows (0 = the first answer token). */
	position = $state(0);
	target = $state<AttributionTarget>('logit');
	/** The circuit graph keeps edges with |score| at or above this. */
	threshold = $state(0.05);

	#client: EngineClient;

	constructor(client: EngineClient) {
		this.#client = client;
	}

	attribute(prompts: PromptRecord[], key: string): Promise<void> {
		const args = { prompts: $state.snapshot(prompts) as PromptRecord[] };
		return this.attribution.measure(key, (signal, onProgress) => this.#client.call('attribute', args, { signal, onProgress }));
	}

	measureEdges(prompts: PromptRecord[], key: string): Promise<void> {
		const args = { prompts: $state.snapshot(prompts) as PromptRecord[] };
		return this.edges.measure(key, (signal, onProgress) => this.#client.call('edges', args, { signal, onProgress }));
	}

	/** The shown position's attribution as the head map draws it: [layer][head] and one value per MLP. */
	map = $derived.by(() => {
		const r = this.attribution.result;
		const p = r?.positions[Math.min(this.position, r.positions.length - 1)];
		if (!r || !p) return null;
		const value = new Map(p.components.map((c) => [c.name, this.target === 'logit' ? c.logit : c.logit_diff]));
		const heads = Array.from({ length: r.layers }, (_, l) => Array.from({ length: r.heads }, (_, h) => value.get(`L${l}H${h}`) ?? null));
		const mlp = value.has('MLP0') ? Array.from({ length: r.layers }, (_, l) => value.get(`MLP${l}`) ?? null) : undefined;
		return { heads, mlp, position: p };
	});

	/** The shown position's k largest writers by |share| of the logit (or of the logit difference). */
	top(k: number) {
		return this.map ? topComponents(this.map.position, k, this.target) : [];
	}

	/** The k most negative edges (the paths that carry the answer), as sender/receiver names. */
	strongest(k: number) {
		const r = this.edges.result;
		return r ? edgeRows([...r.edges].sort((a, b) => a.score - b.score).slice(0, k)) : [];
	}

	/** The edge table as the CLI writes it: CSV, or JSON with the provenance of the page's prompts. */
	edgesExport(kind: 'csv' | 'json', source: ScanProvenance): string | null {
		const r = this.edges.result;
		if (!r) return null;
		if (kind === 'csv') return edgesCsv(r.edges);
		const provenance = makeProvenance({ ...source, n_prompts: r.n, method: 'path_edges', metric: 'answer_logit_rel' });
		return edgesJson(provenance, { edges: r.edges, n: r.n, clean: {} });
	}

	graph(spec: Spec): CircuitGraph | null {
		const r = this.edges.result;
		return r ? circuitGraph(spec, r.edges, this.threshold) : null;
	}

	clear(): void {
		this.attribution.clear();
		this.edges.clear();
		this.position = 0;
	}
}
