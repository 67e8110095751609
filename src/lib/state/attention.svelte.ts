// Where each head looks from the answer positions, averaged over the prompt set: attention to each
// operand digit (by place value), the operator and '=' (core operandAttention), fetched per model
// and prompt set.
import type { PromptRecord } from '$lib/core/tasks';
import type { EngineClient } from '$lib/workers/engineClient';
import { Latest } from './latest';
import type { AttentionResult } from '$lib/workers/protocol';

export class AttentionState {
	result = $state.raw<AttentionResult | null>(null);
	loading = $state(false);
	error = $state('');

	#client: EngineClient;
	#latest = new Latest();

	constructor(client: EngineClient) {
		this.#client = client;
	}

	async fetch(prompts: PromptRecord[]): Promise<void> {
		[this.loading, this.error] = [true, ''];
		await this.#latest.run(() => this.#client.call('attention', { prompts: $state.snapshot(prompts) as PromptRecord[] }), {
			result: (result) => (this.result = result),
			error: (message) => ([this.result, this.error] = [null, message]),
			settled: () => (this.loading = false)
		});
	}

	clear(): void {
		this.#latest.drop();
		[this.result, this.loading, this.error] = [null, false, ''];
	}

	/** [answer position][target] of one head. */
	head(layer: number, head: number): number[][] {
		const r = this.result;
		if (!r || layer >= r.layers || head >= r.heads) return [];
		const K = r.targets.length;
		const at = (layer * r.heads + head) * r.answers * K;
		return Array.from({ length: r.answers }, (_, i) => Array.from(r.attention.subarray(at + i * K, at + (i + 1) * K)));
	}
}
