import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { attentionShapes, headSlices, type TensorSlice } from '../../src/lib/core/export/headSlices';
import { headMaskPlan, loraPlan } from '../../src/lib/core/export/plan';
import type { Spec } from '../../src/lib/core/model/spec';

interface Case { spec: Spec; total_params: number; shapes: Record<string, number[]>; heads: Record<string, Record<string, [number, number][]>> }
const fixture = JSON.parse(readFileSync(new URL('../fixtures/head-slices.json', import.meta.url), 'utf8')) as { cases: Record<string, Case> };

/** Row-major flat index runs [start, end) a slice covers, merged across slices of the same tensor. */
function flatRuns(slices: TensorSlice[], shapes: Map<string, number[]>): Record<string, [number, number][]> {
	const out: Record<string, [number, number][]> = {};
	for (const s of slices) {
		const shape = shapes.get(s.tensor)!;
		const outer = shape.slice(0, s.dim).reduce((a, b) => a * b, 1);
		const inner = shape.slice(s.dim + 1).reduce((a, b) => a * b, 1);
		for (let o = 0; o < outer; o++) (out[s.tensor] ??= []).push([(o * shape[s.dim] + s.start) * inner, (o * shape[s.dim] + s.end) * inner]);
	}
	for (const runs of Object.values(out)) {
		runs.sort((a, b) => a[0] - b[0]);
		for (let i = runs.length - 1; i > 0; i--) if (runs[i - 1][1] === runs[i][0]) runs.splice(i - 1, 2, [runs[i - 1][0], runs[i][1]]);
	}
	return out;
}

describe('headSlices match checkpoints.to_checkpoint layouts', () => {
	for (const [name, c] of Object.entries(fixture.cases)) {
		it(name, () => {
			for (const [key, want] of Object.entries(c.heads)) {
				const [l, h] = key.split(',').map(Number);
				const shapes = attentionShapes(c.spec, l);
				for (const [t, shape] of Object.entries(c.shapes)) if (shapes.has(t)) expect(shapes.get(t), t).toEqual(shape);
				expect(flatRuns(headSlices(c.spec, l, h), shapes), `${name} head ${key}`).toEqual(want);
			}
		});
	}
});

describe('headMaskPlan', () => {
	it('counts touched parameters once per shared kv head, against the checkpoint total', () => {
		for (const [name, c] of Object.entries(fixture.cases)) {
			const heads = [{ layer: 1, head: 0 }, { layer: 1, head: 1 }, { layer: 0, head: c.spec.n_heads - 1 }];
			const plan = headMaskPlan(c.spec, heads);
			const elements = new Set<string>();
			for (const { layer, head } of heads) {
				for (const [t, runs] of Object.entries(c.heads[`${layer},${head}`])) for (const [s, e] of runs) for (let i = s; i < e; i++) elements.add(`${t}#${i}`);
			}
			expect(plan.params_touched, name).toBe(elements.size);
			expect(plan.params_total, name).toBe(c.total_params);
			expect(plan.percent).toBeCloseTo((100 * elements.size) / c.total_params, 12);
			for (const m of plan.heads) {
				const own = Object.values(c.heads[`${m.layer},${m.head}`]).flat().reduce((n, [s, e]) => n + e - s, 0);
				expect(m.params, `${name} ${m.layer},${m.head}`).toBe(own);
			}
		}
	});

	it('names the query heads sharing a kv head and rejects bad heads', () => {
		const gqa = fixture.cases['llama-gqa'].spec; // 4 query heads, 2 kv heads
		const plan = headMaskPlan(gqa, [{ layer: 0, head: 3 }, { layer: 0, head: 3 }]);
		expect(plan.heads).toHaveLength(1);
		expect(plan.heads[0]).toMatchObject({ kv_head: 1, kv_shared_with: [2] });
		expect(plan.heads[0].slices).toEqual([
			{ tensor: 'model.layers.0.self_attn.q_proj.weight', dim: 0, start: 9, end: 12, part: 'q' },
			{ tensor: 'model.layers.0.self_attn.k_proj.weight', dim: 0, start: 3, end: 6, part: 'k' },
			{ tensor: 'model.layers.0.self_attn.v_proj.weight', dim: 0, start: 3, end: 6, part: 'v' },
			{ tensor: 'model.layers.0.self_attn.o_proj.weight', dim: 1, start: 9, end: 12, part: 'o' }
		]);
		expect(plan.tensor_shapes['model.layers.0.self_attn.k_proj.weight']).toEqual([6, 10]);
		expect(() => headMaskPlan(gqa, [{ layer: 2, head: 0 }])).toThrow(/layer 2 not in 0..1/);
		expect(() => headMaskPlan(gqa, [{ layer: 0, head: 4 }])).toThrow(/head 4 not in 0..3/);
		expect(() => headMaskPlan(gqa, [])).toThrow(/no heads chosen/);
	});
});

describe('loraPlan', () => {
	const spec = (name: string) => fixture.cases[name].spec;
	const heads = [{ layer: 1, head: 0 }, { layer: 0, head: 1 }, { layer: 1, head: 1 }];
	it('targets each family\'s attention modules in the chosen layers', () => {
		expect(loraPlan(spec('gpt2'), heads, { r: 4, lora_alpha: 8 })).toEqual({
			peft_type: 'LORA', task_type: 'CAUSAL_LM', r: 4, lora_alpha: 8, lora_dropout: 0.05, bias: 'none',
			target_modules: ['attn.c_attn', 'attn.c_proj'], layers_to_transform: [0, 1], layers_pattern: 'h', fan_in_fan_out: true
		});
		expect(loraPlan(spec('llama-gqa'), [{ layer: 1, head: 2 }])).toMatchObject({
			target_modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj'], layers_to_transform: [1], layers_pattern: 'layers', fan_in_fan_out: false, r: 8, lora_alpha: 16
		});
		expect(loraPlan(spec('qwen2-mqa'), heads).target_modules).toEqual(['q_proj', 'k_proj', 'v_proj', 'o_proj']);
		expect(loraPlan(spec('gpt_neox'), heads)).toMatchObject({ target_modules: ['query_key_value', 'dense'], layers_pattern: 'layers' });
		const tl = loraPlan(spec('transformer_lens'), heads);
		expect(tl).toMatchObject({ target_parameters: ['attn.W_Q', 'attn.W_K', 'attn.W_V', 'attn.W_O'], layers_pattern: 'blocks' });
		expect('target_modules' in tl).toBe(false);
		expect(loraPlan(spec('transformer_lens-gqa'), heads).target_parameters).toEqual(['attn.W_Q', 'attn._W_K', 'attn._W_V', 'attn.W_O']);
	});
});
