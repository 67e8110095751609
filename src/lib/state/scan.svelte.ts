// One head/MLP scan: the method, its progress (cancellable), and its result together with the
// inputs it was computed on, so the view can say exactly what a map shows and when it is stale.
import { headEntries, headReportJson, headTableCsv, makeProvenance, mlpEntries, type HeadEntry, type MlpEntry, type RankOrder } from '$lib/core/export';
import type { ProvenanceInput } from '$lib/core/export';
import type { PromptRecord } from '$lib/core/tasks';
import { ABORT, type EngineClient } from '$lib/workers/engineClient';
import type { ScanMethod, ScanProgress, ScanResult } from '$lib/workers/protocol';
import { DEFAULT_VIEW } from './viewUrl';

/** What a scan was run on: enough to tell whether a result still matches the view, and to cite it. */
export interface ScanInputs {
	model: string;
	backend: string;
	task: string;
	seed: number;
	method: ScanMethod;
}

export type ScanProvenance = Omit<ProvenanceInput, 'method' | 'metric' | 'timestamp'>;

export type ScanStatus = 'idle' | 'running' | 'done' | 'error' | 'cancelled';

/** Path patching's relative logit change is negative for key heads, so it ranks low-first. */
export const rankOrderOf = (method: ScanMethod): RankOrder => (method === 'path' ? 'ascending' : 'descending');

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
	#abort: AbortController | null = null;

	constructor(client: EngineClient) {
		this.#client = client;
	}

	get running(): boolean {
		return this.status === 'running';
	}

	/** scores[layer][head] for the head map. */
	heads = $derived.by((): number[][] => {
		const r = this.result;
		if (!r) return [];
		return Array.from({ length: r.layers }, (_, l) => Array.from(r.score.subarray(l * r.heads, (l + 1) * r.heads)));
	});

	mlp = $derived(this.result?.mlp ? Array.from(this.result.mlp) : undefined);

	/** Heads ranked as the exports rank them (1 = most important for this method). */
	entries = $derived.by((): HeadEntry[] => {
		const r = this.result;
		if (!r) return [];
		const t = (data: Float32Array | undefined, shape: number[]) => (data ? { data, shape } : undefined);
		return headEntries(
			{
				score: { data: r.score, shape: [r.layers, r.heads] },
				accuracy_drop: t(r.accuracyDrop, [r.layers, r.heads]),
				logprob_drop: t(r.logprobDrop, [r.layers, r.heads]),
				position_accuracy_drop: t(r.positionAccuracyDrop, [r.layers, r.heads, r.positions])
			},
			rankOrderOf(r.method)
		);
	});

	mlpEntries = $derived.by((): MlpEntry[] => {
		const r = this.result;
		if (!r?.mlp) return [];
		const t = (data: Float32Array | undefined) => (data ? { data, shape: [r.layers] } : undefined);
		return mlpEntries({ score: { data: r.mlp, shape: [r.layers] }, accuracy_drop: t(r.mlpAccuracyDrop), logprob_drop: t(r.mlpLogprobDrop) }, rankOrderOf(r.method));
	});

	/** True when the shown result was computed on other inputs than `now`. */
	isStale(now: ScanInputs | null): boolean {
		return this.result !== null && !sameInputs(this.inputs, now);
	}

	async run(prompts: PromptRecord[], inputs: ScanInputs, provenance: ScanProvenance): Promise<void> {
		this.#abort?.abort();
		const abort = (this.#abort = new AbortController());
		Object.assign(this, { status: 'running', error: '', progress: { done: 0, total: 1 } });
		try {
			const result = await this.#client.call(
				'scan',
				{ method: inputs.method, prompts: $state.snapshot(prompts) as PromptRecord[], seed: inputs.seed },
				{ signal: abort.signal, onProgress: (p) => this.#abort === abort && (this.progress = p) }
			);
			Object.assign(this, { result, inputs, provenance, status: 'done', progress: null });
		} catch (e) {
			if (this.#abort !== abort) return; // superseded by a newer run
			const cancelled = (e as Error).name === ABORT;
			Object.assign(this, { status: cancelled ? 'cancelled' : 'error', error: cancelled ? '' : (e as Error).message, progress: null });
		}
	}

	/** The head table as CSV (DESIGN §7), rows in rank order. */
	csv(): string {
		return headTableCsv(this.entries);
	}

	/** The JSON report: provenance of the shown result, clean metrics, ranked heads and MLPs. */
	json(): string {
		const r = this.result;
		if (!r || !this.provenance) throw new Error('no scan result to export');
		const provenance = makeProvenance({ ...this.provenance, method: r.method, metric: r.metric });
		return headReportJson({ provenance, clean: r.clean, heads: this.entries, mlps: this.mlpEntries });
	}

	cancel(): void {
		this.#abort?.abort();
	}
}
