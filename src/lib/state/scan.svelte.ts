// One head/MLP scan: the method, its progress (cancellable), and its result together with the
// inputs it was computed on, so the view can say exactly what a map shows and when it is stale.
import { scanProvenance, type ScanMethod, type ScanSource } from '$lib/core/experiments/methods';
import { headReportJson, headTableCsv, type HeadEntry, type MlpEntry } from '$lib/core/export';
import type { PromptRecord } from '$lib/core/tasks';
import type { EngineClient } from '$lib/workers/engineClient';
import type { ScanProgress, ScanResult } from '$lib/workers/protocol';
import { Latest } from './latest';
import { DEFAULT_VIEW } from './viewUrl';

/** What a scan was run on: enough to tell whether a result still matches the view, and to cite it. */
export interface ScanInputs {
	model: string;
	backend: string;
	task: string;
	seed: number;
	method: ScanMethod;
}

export type ScanProvenance = Omit<ScanSource, 'timestamp'>;

export type ScanStatus = 'idle' | 'running' | 'done' | 'error' | 'cancelled';

const sameInputs = (a: ScanInputs | null, b: ScanInputs | null) => JSON.stringify(a) === JSON.stringify(b);

export class ScanState {
	method = $state<ScanMethod>(DEFAULT_VIEW.method);
	status = $state<ScanStatus>('idle');
	progress = $state.raw<ScanProgress | null>(null);
	result = $state.raw<ScanResult | null>(null);
	inputs = $state.raw<ScanInputs | null>(null);
	/** Provenance of the shown result, less method and metric (which the result carries). */
	provenance = $state.raw<ScanProvenance | null>(null);
	error = $state('');

	#client: EngineClient;
	#latest = new Latest();

	constructor(client: EngineClient) {
		this.#client = client;
	}

	get running(): boolean {
		return this.status === 'running';
	}

	/** Heads ranked as the exports rank them (1 = most important for this method), as the worker ranked them. */
	entries = $derived<HeadEntry[]>(this.result?.entries ?? []);

	mlpEntries = $derived<MlpEntry[]>(this.result?.mlps ?? []);

	/** scores[layer][head] for the head map. */
	heads = $derived.by((): number[][] => {
		const r = this.result;
		if (!r) return [];
		const grid = Array.from({ length: r.layers }, () => new Array<number>(r.heads).fill(NaN));
		for (const e of r.entries) grid[e.layer][e.head] = e.score;
		return grid;
	});

	/** score per MLP layer, or undefined when the scan has no MLP scores. */
	mlp = $derived.by((): number[] | undefined => {
		const m = this.result?.mlps;
		if (!m?.length) return undefined;
		const out = new Array<number>(this.result!.layers).fill(NaN);
		for (const e of m) out[e.layer] = e.score;
		return out;
	});

	/** True when the shown result was computed on other inputs than `now`. */
	isStale(now: ScanInputs | null): boolean {
		return this.result !== null && !sameInputs(this.inputs, now);
	}

	async run(prompts: PromptRecord[], inputs: ScanInputs, provenance: ScanProvenance): Promise<void> {
		Object.assign(this, { status: 'running', error: '', progress: { done: 0, total: 1 } });
		const args = { method: inputs.method, prompts: $state.snapshot(prompts) as PromptRecord[], seed: inputs.seed };
		await this.#latest.run((signal) => this.#client.call('scan', args, { signal, onProgress: (p) => !signal.aborted && (this.progress = p) }), {
			result: (result) => Object.assign(this, { result, inputs, provenance, status: 'done', progress: null }),
			error: (error) => Object.assign(this, { status: 'error', error, progress: null }),
			cancelled: () => Object.assign(this, { status: 'cancelled', error: '', progress: null })
		});
	}

	/** The head table as CSV (DESIGN §7), rows in rank order. */
	csv(): string {
		return headTableCsv(this.entries);
	}

	/** The JSON report: provenance of the shown result, clean metrics, ranked heads and MLPs. */
	json(): string {
		const r = this.result;
		if (!r || !this.provenance) throw new Error('no scan result to export');
		// n is what the scores average over: patching leaves out prompts without a usable counterfactual
		const provenance = scanProvenance({ ...this.provenance, n_prompts: r.n }, r);
		return headReportJson({ provenance, clean: r.clean, heads: this.entries, mlps: this.mlpEntries });
	}

	cancel(): void {
		this.#latest.cancel();
	}
}
