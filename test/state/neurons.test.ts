// NeuronsState with a stand-in client that answers as the worker would: compute asks for the lens of
// the prompts, then the first neuron's grid (lowest IPR) and pruning at the lens's χ; a chosen χ prunes
// again at that value; the table sorts by IPR (dead neurons last) or by importance; a set that is not
// modular gets core's one-line reason.
import { describe, expect, it } from 'vitest';
import { generatePrompts, parseTaskSpec } from '../../src/lib/core/tasks';
import { NeuronsState } from '../../src/lib/state/neurons.svelte';
import type { EngineClient } from '../../src/lib/workers/engineClient';
import type { NeuronsView } from '../../src/lib/workers/protocol';

const lens: NeuronsView = {
	p: 3,
	r: 2,
	neurons: [
		{ layer: 0, neuron: 0, ipr: 0.5, freq: [1, 0], power_share: 0.9 },
		{ layer: 0, neuron: 1, ipr: NaN, freq: [0, 0], power_share: NaN },
		{ layer: 0, neuron: 2, ipr: 0.01, freq: [1, 2], power_share: 0.1 },
		{ layer: 0, neuron: 3, ipr: 0.2, freq: [2, 2], power_share: 0.5 }
	],
	threshold: { value: 0.1, from: 'otsu' },
	counts: { memorizing: 1, generalizing: 2, dead: 1 },
	layers: [0],
	hasSplit: true,
	groups: { train_clean: 5, train_corrupted: 0, test: 4 }
};

function standIn() {
	const calls: { type: string; args: Record<string, unknown> }[] = [];
	const answers: Record<string, (args: Record<string, unknown>) => unknown> = {
		neurons: () => lens,
		neuronGrid: (a) => ({ ...a, p: 3, grid: new Float32Array(9), spectrum: new Float32Array(9) }),
		prune: (a) => ({ threshold: a.threshold, ablation: a.ablation, pruned: [], before: {}, after: {} }),
		sweep: () => [],
		neuronImportance: () => lens.neurons.map((n, i) => ({ layer: n.layer, neuron: n.neuron, logprob_drop: [0.3, 0, 0.1, 2][i], accuracy_drop: 0 }))
	};
	const client = {
		async call(type: string, args: Record<string, unknown>) {
			calls.push({ type, args });
			return answers[type](args);
		}
	} as unknown as EngineClient;
	return { client, calls };
}

describe('NeuronsState', () => {
	const prompts = generatePrompts(parseTaskSpec('add:p3'), { n: 9, seed: 0 });

	it('computes the lens, shows the lowest-IPR neuron and prunes at χ; a chosen χ prunes again', async () => {
		const { client, calls } = standIn();
		const s = new NeuronsState(client);
		expect(NeuronsState.unavailable(prompts)).toBe('');
		await s.compute(prompts, 'k');
		await Promise.resolve();
		expect(calls.map((c) => c.type)).toEqual(['neurons', 'neuronGrid', 'prune']);
		expect((calls[0].args.prompts as unknown[]).length).toBe(9);
		expect(calls[1].args).toEqual({ layer: 0, neuron: 2 });
		expect(calls[2].args).toEqual({ threshold: 0.1, ablation: 'mean' });
		expect(s.counts).toEqual({ below: 1, above: 2 });
		expect(s.rows().map((r) => r.neuron)).toEqual([2, 3, 0, 1]);
		await s.setThreshold(0.3);
		expect(calls.at(-1)).toEqual({ type: 'prune', args: { threshold: 0.3, ablation: 'mean' } });
		expect([s.threshold, s.pruning.result?.threshold, s.counts]).toEqual([0.3, 0.3, { below: 2, above: 1 }]);
	});

	it('ablates as chosen: another ablation prunes again and clears the sweep and importance measured the old way', async () => {
		const { client, calls } = standIn();
		const s = new NeuronsState(client);
		await s.compute(prompts, 'k');
		await s.runSweep(0, 4);
		await s.measureImportance(prompts, 'k');
		expect(calls.filter((c) => c.type !== 'neurons' && c.type !== 'neuronGrid').map((c) => [c.type, c.args.ablation])).toEqual([['prune', 'mean'], ['sweep', 'mean'], ['neuronImportance', 'mean']]);
		await s.setAblation('zero');
		expect(calls.at(-1)).toEqual({ type: 'prune', args: { threshold: 0.1, ablation: 'zero' } });
		expect([s.pruning.result?.ablation, s.sweep.result, s.importance.result]).toEqual(['zero', null, null]);
		await s.setAblation('zero');
		expect(calls.filter((c) => c.type === 'prune')).toHaveLength(2); // the same ablation again measures nothing
	});

	it('sorts by importance once measured, largest drop first', async () => {
		const { client } = standIn();
		const s = new NeuronsState(client);
		await s.compute(prompts, 'k');
		s.sortBy = 'importance';
		expect(s.rows().map((r) => r.neuron)).toEqual([2, 3, 0, 1]); // not measured yet: by IPR
		await s.measureImportance(prompts, 'k');
		expect(s.rows().map((r) => r.neuron)).toEqual([3, 0, 2, 1]);
	});

	it("gives core's one-line reason for a set that is not every modular pair", () => {
		expect(NeuronsState.unavailable(prompts.slice(0, 5))).toMatch(/^not a full modular prompt set: 5 records/);
		expect(NeuronsState.unavailable([{ prompt: '1 + 2 =', answer: ' 3' }])).toMatch(/^not a modular prompt set: record 1 \("1 \+ 2 ="\) has no integer meta\.a and meta\.b/);
		expect(NeuronsState.unavailable([])).toBe('no prompts yet');
	});
});
