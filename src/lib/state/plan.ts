// Fine-tuning plans as the plan view shows them: core's head mask or LoRA config for the chosen heads,
// serialised, with the layers they touch; an invalid choice is an error message, not a throw.
import { headMaskPlan, layersOf, loraPlan, type HeadMaskPlan } from '$lib/core/export';
import type { HeadRef, Spec } from '$lib/core/model/spec';

export type { HeadRef, Spec } from '$lib/core/model/spec';

export type PlanKind = 'mask' | 'lora';

export interface PlanView {
	/** The plan as a JSON file's text ('' with an error). */
	text: string;
	/** The head mask's counts, for kind 'mask'. */
	mask: HeadMaskPlan | null;
	/** Layers holding the chosen heads, in numeric order. */
	layers: number[];
	error: string;
}

export function fineTuningPlan(spec: Spec, heads: readonly HeadRef[], kind: PlanKind): PlanView {
	const layers = layersOf(heads);
	try {
		const mask = kind === 'mask' ? headMaskPlan(spec, heads) : null;
		const value = mask ?? loraPlan(spec, heads);
		return { text: JSON.stringify(value, null, 2) + '\n', mask, layers, error: '' };
	} catch (e) {
		return { text: '', mask: null, layers, error: (e as Error).message };
	}
}

/** The file a plan downloads as. */
export const planFileName = (name: string, kind: PlanKind) => `${name}-${kind === 'lora' ? 'lora-config' : 'head-mask'}.json`;
