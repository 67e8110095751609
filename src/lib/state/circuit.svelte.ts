// Faithfulness of a head set (the scan's top k): accuracy and logprob with the set ablated, with only
// the set kept, with every head ablated, against random sets of the same size; measured on request.
import type { AblationMethod, FaithfulnessResult } from '$lib/core/experiments';
import type { PromptRecord } from '$lib/core/tasks';
import type { EngineClient } from '$lib/workers/engineClient';
import type { ScanProgress } from '$lib/workers/protocol';
import { Latest } from './latest';
import type { HeadRef } from './selection.svelte';

export class CircuitState {
	result = $state.raw<FaithfulnessResult | null>(null);
	/** Which heads, method and prompt set the result is for. */
	key = $state('');
	running = $state(false);
	progress = $state.raw<ScanProgress | null>(null);
	error = $state('');

	#client: EngineClient;
	#latest = new Latest();

	constructor(client: EngineClient) {
		this.#client = client;
	}

	static keyOf(heads: readonly HeadRef[], method: AblationMethod, promptsKey: string): string {
		return `${method}|${heads.map((h) => `${h.layer}.${h.head}`).join(',')}|${promptsKey}`;
	}

	async measure(prompts: PromptRecord[], heads: HeadRef[], method: AblationMethod, seed: number, key: string): Promise<void> {
		[this.running, this.error, this.progress] = [true, '', null];
		const args = { prompts: $state.snapshot(prompts) as PromptRecord[], heads: $state.snapshot(heads), method, seed };
		await this.#latest.run((signal) => this.#client.call('faithfulness', args, { signal, onProgress: (p) => !signal.aborted && (this.progress = p) }), {
			result: (result) => ([this.result, this.key] = [result, key]),
			error: (message) => (this.error = message),
			settled: () => ([this.running, this.progress] = [false, null])
		});
	}

	cancel(): void {
		this.#latest.cancel();
	}

	clear(): void {
		this.cancel();
		[this.result, this.key, this.error] = [null, '', ''];
	}
}
