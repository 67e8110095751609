// Canonical architecture description shared by every family (mirrors models/train/reference.py Spec).
// Checkpoint loaders translate Hugging Face / TransformerLens weights into this one layout, so the
// graph builder has a single forward to write per option rather than per family.

export type Family = 'gpt2' | 'llama' | 'qwen2' | 'gpt_neox' | 'transformer_lens';
export type Norm = 'LN' | 'LNPre' | 'RMS' | 'None';
export type Act = 'relu' | 'gelu' | 'gelu_new' | 'silu';
export type Positional = 'standard' | 'rotary' | 'none';

/** One attention head of a model: its layer and (query) head index. */
export interface HeadRef {
	layer: number;
	head: number;
}

export interface Spec {
	family: Family;
	n_layers: number;
	d_model: number;
	n_heads: number;
	/** < n_heads: grouped-query attention; query head h reads kv head floor(h / (n_heads / n_kv_heads)). */
	n_kv_heads: number;
	d_head: number;
	d_mlp: number;
	d_vocab: number;
	n_ctx: number;
	norm: Norm;
	eps: number;
	/** gelu = exact erf GELU; gelu_new = tanh approximation (GPT-2). */
	act: Act;
	/** SwiGLU-style MLP: post = act(x W_gate) * (x W_in). */
	gated: boolean;
	attn_only: boolean;
	pos: Positional;
	/** Rotate the first rotary_dim features of each head (rotate_half convention). */
	rotary_dim: number;
	rotary_base: number;
	/** GPT-NeoX parallel residual: x + attn(ln1(x)) + mlp(ln2(x)). */
	parallel: boolean;
	qkv_bias: boolean;
	o_bias: boolean;
	mlp_bias: boolean;
	/** LayerNorm has a bias (LN only). */
	norm_bias: boolean;
	unembed_bias: boolean;
	/** Unembedding is W_E transposed. */
	tied: boolean;
	/** Divisor of q·k; 0 means sqrt(d_head). */
	attn_scale: number;
}

/** Shape of every canonical parameter the spec has (TransformerLens names and layouts). */
export function canonicalShapes(s: Spec): Map<string, number[]> {
	const { d_model: D, n_heads: H, n_kv_heads: K, d_head: dh, d_mlp: M, d_vocab: V } = s;
	const shapes = new Map<string, number[]>([['W_E', [V, D]]]);
	if (s.pos === 'standard') shapes.set('W_pos', [s.n_ctx, D]);
	const norms = s.attn_only ? ['ln1'] : ['ln1', 'ln2'];
	for (let l = 0; l < s.n_layers; l++) {
		const p = `blocks.${l}.`;
		for (const n of norms) {
			if (s.norm === 'LN' || s.norm === 'RMS') shapes.set(`${p}${n}.w`, [D]);
			if (s.norm === 'LN' && s.norm_bias) shapes.set(`${p}${n}.b`, [D]);
		}
		shapes.set(`${p}W_Q`, [H, D, dh]).set(`${p}W_K`, [K, D, dh]).set(`${p}W_V`, [K, D, dh]).set(`${p}W_O`, [H, dh, D]);
		if (s.qkv_bias) shapes.set(`${p}b_Q`, [H, dh]).set(`${p}b_K`, [K, dh]).set(`${p}b_V`, [K, dh]);
		if (s.o_bias) shapes.set(`${p}b_O`, [D]);
		if (!s.attn_only) {
			shapes.set(`${p}W_in`, [D, M]).set(`${p}W_out`, [M, D]);
			if (s.gated) shapes.set(`${p}W_gate`, [D, M]);
			if (s.mlp_bias) shapes.set(`${p}b_in`, [M]).set(`${p}b_out`, [D]);
		}
	}
	if (s.norm === 'LN' || s.norm === 'RMS') shapes.set('ln_final.w', [D]);
	if (s.norm === 'LN' && s.norm_bias) shapes.set('ln_final.b', [D]);
	if (!s.tied) shapes.set('W_U', [D, V]);
	if (s.unembed_bias) shapes.set('b_U', [V]);
	return shapes;
}

export const attnScale = (s: Spec): number => s.attn_scale || Math.sqrt(s.d_head);

/**
 * Rotary tables cover the first ROTARY_POSITIONS positions (n_ctx permitting): 2 x 8192 x rotary_dim
 * floats (8 MB at dim 128), whatever max_position_embeddings claims (a table of 10^7 rows took 5 GB).
 */
export const ROTARY_POSITIONS = 8192;

/** The positions a run of a rotary model can use: the rows of its rotary tables. */
export const rotaryRows = (s: Spec): number => Math.min(s.n_ctx, ROTARY_POSITIONS);

