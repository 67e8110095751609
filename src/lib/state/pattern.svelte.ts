// Attention patterns of every head on the chosen prompt, fetched from the worker when the prompt or
// the model changes; the detail views read slices of them.
import type { PromptRecord } from '$lib/core/tasks';
import type { EngineClient } from '$lib/workers/engineClient';
import { Latest } from './latest';
import type { PatternResult } from '$lib/workers/protocol';

export class PatternState {
	result = $state.raw<PatternResult | null>(null);
	/** The prompt the result belongs to. */
	record = $state.raw<PromptRecord | null>(null);
	loading = $state(false);
	error = $state('');

	#client: EngineClient;
	#latest = new Latest();

	constructor(client: EngineClient) {
		this.#client = client;
	}

	async fetch(record: PromptRecord): Promise<void> {
		this.loading = true;
		this.error = '';
		await this.#latest.run(() => this.#client.call('pattern', { prompt: record.prompt, answer: record.answer }), {
			result: (result) => ([this.result, this.record] = [result, record]),
			error: (message) => ([this.result, this.error] = [null, message]),
			settled: () => (this.loading = false)
		});
	}

	clear(): void {
		this.#latest.drop();
		[this.result, this.record, this.loading, this.error] = [null, null, false, ''];
	}

	/** pattern[query][key] of one head, as rows of the flat [L, H, T, T] array. */
	head(layer: number, head: number): Float32Array[] {
		const r = this.result;
		if (!r || layer >= r.layers || head >= r.heads) return [];
		const T = r.tokens.length;
		const at = (layer * r.heads + head) * T * T;
		return Array.from({ length: T }, (_, q) => r.patterns.subarray(at + q * T, at + (q + 1) * T));
	}
}
