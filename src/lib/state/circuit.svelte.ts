// Faithfulness of a head set (the scan's top k): accuracy and logprob with the set ablated, with only
// the set kept, with every head ablated, against random sets of the same size; measured on request.
import type { AblationMethod, FaithfulnessResult } from '$lib/core/experiments';
import type { PromptRecord } from '$lib/core/tasks';
import type { EngineClient } from '$lib/workers/engineClient';
import { Measured } from './measured.svelte';
import type { HeadRef } from './selection.svelte';

export class CircuitState extends Measured<FaithfulnessResult> {
	#client: EngineClient;

	constructor(client: EngineClient) {
		super();
		this.#client = client;
	}

	/** The key of a result: which heads, method and prompt set it is for. */
	static keyOf(heads: readonly HeadRef[], method: AblationMethod, promptsKey: string): string {
		return `${method}|${heads.map((h) => `${h.layer}.${h.head}`).join(',')}|${promptsKey}`;
	}

	measureHeads(prompts: PromptRecord[], heads: HeadRef[], method: AblationMethod, seed: number, key: string): Promise<void> {
		const args = { prompts: $state.snapshot(prompts) as PromptRecord[], heads: $state.snapshot(heads), method, seed };
		return this.measure(key, (signal, onProgress) => this.#client.call('faithfulness', args, { signal, onProgress }));
	}
}
