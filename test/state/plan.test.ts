// The plan view's layers are numbers in numeric order (a string sort printed 10 before 2), and its
// JSON is core's plan.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { headMaskPlan, layersOf, loraPlan } from '../../src/lib/core/export/plan';
import type { Spec } from '../../src/lib/core/model/spec';
import { fineTuningPlan, planFileName } from '../../src/lib/state/plan';

const fixture = JSON.parse(readFileSync(new URL('../fixtures/head-slices.json', import.meta.url), 'utf8')) as { cases: Record<string, { spec: Spec }> };
const spec: Spec = { ...fixture.cases.gpt2.spec, n_layers: 12 };
const heads = [{ layer: 10, head: 0 }, { layer: 2, head: 1 }, { layer: 10, head: 2 }, { layer: 1, head: 0 }];

describe('layersOf', () => {
	it('lists each layer once, 2 before 10', () => {
		expect(layersOf(heads)).toEqual([1, 2, 10]);
		expect(loraPlan(spec, heads).layers_to_transform).toEqual([1, 2, 10]);
	});
});

describe('fineTuningPlan', () => {
	it('serialises core plan and names the layers in numeric order', () => {
		const lora = fineTuningPlan(spec, heads, 'lora');
		expect(lora).toEqual({ text: JSON.stringify(loraPlan(spec, heads), null, 2) + '\n', mask: null, layers: [1, 2, 10], error: '' });
		const mask = fineTuningPlan(spec, heads, 'mask');
		expect(mask.mask).toEqual(headMaskPlan(spec, heads));
		expect(mask.text).toBe(JSON.stringify(headMaskPlan(spec, heads), null, 2) + '\n');
		expect(planFileName('tiny', 'lora')).toBe('tiny-lora-config.json');
		expect(planFileName('tiny', 'mask')).toBe('tiny-head-mask.json');
	});
	it('turns an invalid choice into its message', () => {
		expect(fineTuningPlan(spec, [], 'mask')).toEqual({ text: '', mask: null, layers: [], error: 'fine-tuning plan: no heads chosen' });
	});
});
