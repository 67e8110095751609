// What the user is looking at: the selected head, how many top heads to outline, and which prompt
// of the set the detail views show.
import type { HeadRef } from '$lib/core/model/spec';
import { DEFAULT_VIEW } from './viewUrl';

export type { HeadRef } from '$lib/core/model/spec';

export class SelectionState {
	head = $state.raw<HeadRef | null>(DEFAULT_VIEW.head);
	topK = $state(DEFAULT_VIEW.topK);
	prompt = $state(DEFAULT_VIEW.prompt);

	select(layer: number, head: number): void {
		this.head = { layer, head };
	}

	isSelected(layer: number, head: number): boolean {
		return this.head?.layer === layer && this.head.head === head;
	}

	/** Keep the selection inside a model of L layers and H heads, and the prompt inside the set. */
	clamp(layers: number, heads: number, prompts: number): void {
		if (this.head && (this.head.layer >= layers || this.head.head >= heads)) this.head = null;
		if (prompts > 0 && this.prompt >= prompts) this.prompt = 0;
	}
}
