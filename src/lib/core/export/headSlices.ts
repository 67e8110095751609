// Where one attention head lives in each checkpoint family's own tensors (models/train/checkpoints.py
// layouts): the slices precise SFT (Zhang et al. 2024) updates for that head. A slice is
// tensor[start:end] along `dim`, every other dimension whole. Names are the model's parameter names
// (GPT2LMHeadModel, LlamaForCausalLM / Qwen2ForCausalLM, GPTNeoXForCausalLM, HookedTransformer).

import type { Spec } from '../model/spec';

export type HeadPart = 'q' | 'k' | 'v' | 'o';

export interface TensorSlice {
	tensor: string;
	dim: number;
	start: number;
	end: number;
	part: HeadPart;
}

/** The kv head a query head reads under grouped-query attention (shared by H / Hkv query heads). */
export const kvHeadOf = (spec: Spec, head: number): number => Math.floor(head / (spec.n_heads / spec.n_kv_heads));

interface Layout {
	/** Slices of query head h whose kv head is g, in layer l. */
	slices: (l: number, h: number, g: number) => TensorSlice[];
	/** Shapes of the layer's attention tensors those slices index. */
	shapes: (l: number) => [string, number[]][];
}

function layout(s: Spec): Layout {
	const { n_heads: H, n_kv_heads: K, d_head: dh, d_model: D } = s;
	const rows = (h: number) => [h * dh, (h + 1) * dh] as const;
	const slice = (tensor: string, dim: number, [start, end]: readonly [number, number], part: HeadPart): TensorSlice => ({ tensor, dim, start, end, part });
	const withBias = <T>(items: T[], bias: T[]) => (s.qkv_bias ? [...items, ...bias] : items);
	switch (s.family) {
		case 'gpt2': {
			// Conv1D stores [in, out]: c_attn's columns are q | k | v blocks of H*dh, one run of dh per head;
			// c_proj's rows are the heads' z features.
			const p = (l: number) => `transformer.h.${l}.attn.`;
			const qkv = (h: number, i: number) => [i * H * dh + h * dh, i * H * dh + (h + 1) * dh] as const;
			return {
				slices: (l, h) => {
					const parts = (['q', 'k', 'v'] as const).map((part, i) => slice(`${p(l)}c_attn.weight`, 1, qkv(h, i), part));
					const bias = (['q', 'k', 'v'] as const).map((part, i) => slice(`${p(l)}c_attn.bias`, 0, qkv(h, i), part));
					return [...withBias(parts, bias), slice(`${p(l)}c_proj.weight`, 0, rows(h), 'o')];
				},
				shapes: (l) => [[`${p(l)}c_attn.weight`, [D, 3 * H * dh]], ...(s.qkv_bias ? [[`${p(l)}c_attn.bias`, [3 * H * dh]] as [string, number[]]] : []), [`${p(l)}c_proj.weight`, [H * dh, D]]]
			};
		}
		case 'llama':
		case 'qwen2': {
			// nn.Linear stores [out, in]: q/k/v rows per head (k, v per kv head), o_proj columns per head.
			const p = (l: number) => `model.layers.${l}.self_attn.`;
			return {
				slices: (l, h, g) => [
					...withBias(
						[slice(`${p(l)}q_proj.weight`, 0, rows(h), 'q'), slice(`${p(l)}k_proj.weight`, 0, rows(g), 'k'), slice(`${p(l)}v_proj.weight`, 0, rows(g), 'v')],
						[slice(`${p(l)}q_proj.bias`, 0, rows(h), 'q'), slice(`${p(l)}k_proj.bias`, 0, rows(g), 'k'), slice(`${p(l)}v_proj.bias`, 0, rows(g), 'v')]
					),
					slice(`${p(l)}o_proj.weight`, 1, rows(h), 'o')
				],
				shapes: (l) => [
					[`${p(l)}q_proj.weight`, [H * dh, D]], [`${p(l)}k_proj.weight`, [K * dh, D]], [`${p(l)}v_proj.weight`, [K * dh, D]],
					...(s.qkv_bias ? ([[`${p(l)}q_proj.bias`, [H * dh]], [`${p(l)}k_proj.bias`, [K * dh]], [`${p(l)}v_proj.bias`, [K * dh]]] as [string, number[]][]) : []),
					[`${p(l)}o_proj.weight`, [D, H * dh]]
				]
			};
		}
		case 'gpt_neox': {
			// query_key_value rows are interleaved per head: [H, (q|k|v), dh] flattened, so head h owns
			// rows [3·h·dh, 3·(h+1)·dh); dense (nn.Linear [out, in]) columns per head.
			const p = (l: number) => `gpt_neox.layers.${l}.attention.`;
			const qkv = (h: number, i: number) => [(3 * h + i) * dh, (3 * h + i + 1) * dh] as const;
			return {
				slices: (l, h) => [
					...withBias(
						(['q', 'k', 'v'] as const).map((part, i) => slice(`${p(l)}query_key_value.weight`, 0, qkv(h, i), part)),
						(['q', 'k', 'v'] as const).map((part, i) => slice(`${p(l)}query_key_value.bias`, 0, qkv(h, i), part))
					),
					slice(`${p(l)}dense.weight`, 1, rows(h), 'o')
				],
				shapes: (l) => [[`${p(l)}query_key_value.weight`, [3 * H * dh, D]], ...(s.qkv_bias ? [[`${p(l)}query_key_value.bias`, [3 * H * dh]] as [string, number[]]] : []), [`${p(l)}dense.weight`, [D, H * dh]]]
			};
		}
		case 'transformer_lens': {
			// Per-head leading axis: W_Q [H, D, dh], W_K / W_V [Hkv, D, dh], W_O [H, dh, D]. TransformerLens
			// names the grouped-query K/V parameters _W_K, _W_V (_b_K, _b_V).
			const p = (l: number) => `blocks.${l}.attn.`;
			const kv = K < H ? '_' : '';
			const one = (i: number) => [i, i + 1] as const;
			return {
				slices: (l, h, g) => [
					...withBias(
						[slice(`${p(l)}W_Q`, 0, one(h), 'q'), slice(`${p(l)}${kv}W_K`, 0, one(g), 'k'), slice(`${p(l)}${kv}W_V`, 0, one(g), 'v')],
						[slice(`${p(l)}b_Q`, 0, one(h), 'q'), slice(`${p(l)}${kv}b_K`, 0, one(g), 'k'), slice(`${p(l)}${kv}b_V`, 0, one(g), 'v')]
					),
					slice(`${p(l)}W_O`, 0, one(h), 'o')
				],
				shapes: (l) => [
					[`${p(l)}W_Q`, [H, D, dh]], [`${p(l)}${kv}W_K`, [K, D, dh]], [`${p(l)}${kv}W_V`, [K, D, dh]],
					...(s.qkv_bias ? ([[`${p(l)}b_Q`, [H, dh]], [`${p(l)}${kv}b_K`, [K, dh]], [`${p(l)}${kv}b_V`, [K, dh]]] as [string, number[]][]) : []),
					[`${p(l)}W_O`, [H, dh, D]]
				]
			};
		}
	}
}

/** Slices of the checkpoint tensors that belong to head (layer, head). The output bias is shared by all heads and left out. */
export function headSlices(spec: Spec, layer: number, head: number): TensorSlice[] {
	if (!Number.isInteger(layer) || layer < 0 || layer >= spec.n_layers) throw new RangeError(`headSlices: layer ${layer} not in 0..${spec.n_layers - 1}`);
	if (!Number.isInteger(head) || head < 0 || head >= spec.n_heads) throw new RangeError(`headSlices: head ${head} not in 0..${spec.n_heads - 1}`);
	if (spec.family !== 'transformer_lens' && spec.family !== 'llama' && spec.family !== 'qwen2' && spec.n_kv_heads !== spec.n_heads) {
		throw new RangeError(`headSlices: ${spec.family} checkpoints have no grouped-query layout (n_kv_heads ${spec.n_kv_heads} != n_heads ${spec.n_heads})`);
	}
	return layout(spec).slices(layer, head, kvHeadOf(spec, head));
}

/** Checkpoint shapes of one layer's attention tensors (those headSlices indexes). */
export const attentionShapes = (spec: Spec, layer: number): Map<string, number[]> => new Map(layout(spec).shapes(layer));

export function sliceSize(slice: TensorSlice, shape: readonly number[]): number {
	if (slice.dim >= shape.length || slice.start < 0 || slice.end > shape[slice.dim] || slice.start >= slice.end) {
		throw new RangeError(`slice ${slice.tensor}[${slice.start}:${slice.end}] on dim ${slice.dim} does not fit shape [${shape}]`);
	}
	return shape.reduce((n, d, i) => n * (i === slice.dim ? slice.end - slice.start : d), 1);
}
