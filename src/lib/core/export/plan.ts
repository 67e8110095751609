// Fine-tuning plans from a head ranking: (a) a PEFT LoraConfig restricted to the attention modules
// of the layers holding the chosen heads; (b) a head-level gradient mask for precise SFT (Zhang et
// al. 2024): only the chosen heads' slices of the checkpoint tensors are updated.

import { canonicalShapes, type Family, type HeadRef, type Spec } from '../model/spec';
import { numel } from '../model/tensor';
import { attentionShapes, headSlices, kvHeadOf, sliceSize, type TensorSlice } from './headSlices';

export interface LoraOptions {
	r?: number;
	lora_alpha?: number;
	lora_dropout?: number;
}

/** Keys of peft.LoraConfig, so `LoraConfig(**json)` accepts it. */
export interface LoraConfigJson {
	peft_type: 'LORA';
	task_type: 'CAUSAL_LM';
	r: number;
	lora_alpha: number;
	lora_dropout: number;
	bias: 'none';
	target_modules?: string[];
	/** TransformerLens keeps W_Q… as bare nn.Parameters, not Linear modules: PEFT's target_parameters. */
	target_parameters?: string[];
	layers_to_transform: number[];
	layers_pattern: string;
	/** GPT-2's Conv1D stores weights [in, out]. */
	fan_in_fan_out: boolean;
}

// PEFT matches a target by exact name or by "." + suffix, so GPT-2's attention c_proj is written
// attn.c_proj: a bare c_proj would also adapt mlp.c_proj.
const LORA_TARGETS: Record<Family, { modules?: string[]; parameters?: (gqa: boolean) => string[]; layers: string }> = {
	gpt2: { modules: ['attn.c_attn', 'attn.c_proj'], layers: 'h' },
	llama: { modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj'], layers: 'layers' },
	qwen2: { modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj'], layers: 'layers' },
	gpt_neox: { modules: ['query_key_value', 'dense'], layers: 'layers' },
	transformer_lens: { parameters: (gqa) => ['attn.W_Q', gqa ? 'attn._W_K' : 'attn.W_K', gqa ? 'attn._W_V' : 'attn.W_V', 'attn.W_O'], layers: 'blocks' }
};

function uniqueHeads(spec: Spec, heads: readonly HeadRef[]): HeadRef[] {
	if (heads.length === 0) throw new RangeError('fine-tuning plan: no heads chosen');
	const seen = new Set<string>();
	return heads.filter(({ layer, head }) => {
		headSlices(spec, layer, head); // validates the indices
		const key = `${layer},${head}`;
		return seen.has(key) ? false : (seen.add(key), true);
	});
}

/** The layers holding `heads`, each once, in numeric order (2 before 10). */
export function layersOf(heads: readonly HeadRef[]): number[] {
	return [...new Set(heads.map((h) => h.layer))].sort((a, b) => a - b);
}

export function loraPlan(spec: Spec, heads: readonly HeadRef[], options: LoraOptions = {}): LoraConfigJson {
	const { r = 8, lora_alpha = 16, lora_dropout = 0.05 } = options;
	const chosen = uniqueHeads(spec, heads);
	const t = LORA_TARGETS[spec.family];
	return {
		peft_type: 'LORA',
		task_type: 'CAUSAL_LM',
		r,
		lora_alpha,
		lora_dropout,
		bias: 'none',
		...(t.modules ? { target_modules: t.modules } : {}),
		...(t.parameters ? { target_parameters: t.parameters(spec.n_kv_heads < spec.n_heads) } : {}),
		layers_to_transform: layersOf(chosen),
		layers_pattern: t.layers,
		fan_in_fan_out: spec.family === 'gpt2'
	};
}

export interface HeadMask {
	layer: number;
	head: number;
	kv_head: number;
	/** Query heads reading the same kv head: its k/v slices are updated for all of them. */
	kv_shared_with: number[];
	slices: TensorSlice[];
	params: number;
}

export interface HeadMaskPlan {
	method: 'precise-sft';
	family: Family;
	heads: HeadMask[];
	tensor_shapes: Record<string, number[]>;
	/** Distinct parameters touched (a shared kv slice counts once). */
	params_touched: number;
	params_total: number;
	percent: number;
}

export function headMaskPlan(spec: Spec, heads: readonly HeadRef[]): HeadMaskPlan {
	const chosen = uniqueHeads(spec, heads);
	const shapes: Record<string, number[]> = {};
	const touched = new Map<string, number>();
	const group = spec.n_heads / spec.n_kv_heads;
	const masks = chosen.map(({ layer, head }): HeadMask => {
		const layerShapes = attentionShapes(spec, layer);
		const slices = headSlices(spec, layer, head);
		let params = 0;
		for (const s of slices) {
			const shape = layerShapes.get(s.tensor)!;
			shapes[s.tensor] = shape;
			const size = sliceSize(s, shape);
			params += size;
			touched.set(`${s.tensor}:${s.dim}:${s.start}:${s.end}`, size);
		}
		const kv = kvHeadOf(spec, head);
		const kv_shared_with = Array.from({ length: group }, (_, i) => kv * group + i).filter((h) => h !== head);
		return { layer, head, kv_head: kv, kv_shared_with, slices, params };
	});
	const params_touched = [...touched.values()].reduce((a, b) => a + b, 0);
	const params_total = [...canonicalShapes(spec).values()].reduce((n, shape) => n + numel(shape), 0);
	return { method: 'precise-sft', family: spec.family, heads: masks, tensor_shapes: shapes, params_touched, params_total, percent: (100 * params_touched) / params_total };
}
