// Llama and Qwen2 checkpoints -> canonical weights. Both use nn.Linear ([out, in]) with separate
// q/k/v projections; with grouped-query attention k_proj and v_proj have n_kv_heads * d_head rows.
// Qwen2 always has q/k/v biases (no o_proj bias); Llama has q/k/v/o biases iff attention_bias.
// The MLP is SwiGLU: down(silu(gate(x)) * up(x)), so up_proj is W_in and gate_proj is W_gate
// (without biases: config.ts refuses mlp_bias).
import type { Spec } from '../spec';
import type { Weight } from '../tensor';
import { permute, reshape, transpose, type CheckpointReader } from './ops';

export function llamaWeights(s: Spec, ckpt: CheckpointReader): Map<string, Weight> {
	const { d_model: D, n_heads: H, n_kv_heads: K, d_head: dh, d_mlp: M, d_vocab: V } = s;
	const w = new Map<string, Weight>();
	w.set('W_E', ckpt.get('model.embed_tokens.weight', [V, D]));
	for (let l = 0; l < s.n_layers; l++) {
		const p = `blocks.${l}.`;
		const c = `model.layers.${l}.`;
		w.set(p + 'ln1.w', ckpt.get(c + 'input_layernorm.weight', [D]));
		w.set(p + 'ln2.w', ckpt.get(c + 'post_attention_layernorm.weight', [D]));
		for (const [n, hn, heads] of [['q', 'Q', H], ['k', 'K', K], ['v', 'V', K]] as const) {
			// Linear weight [heads*dh, D] -> [heads, dh, D] -> [heads, D, dh]
			const W = ckpt.get(`${c}self_attn.${n}_proj.weight`, [heads * dh, D]);
			w.set(`${p}W_${hn}`, permute(reshape(W, [heads, dh, D]), [0, 2, 1]));
			if (s.qkv_bias) w.set(`${p}b_${hn}`, reshape(ckpt.get(`${c}self_attn.${n}_proj.bias`, [heads * dh]), [heads, dh]));
		}
		// o_proj weight [D, H*dh] -> its transpose [H*dh, D] -> [H, dh, D]
		w.set(p + 'W_O', reshape(transpose(ckpt.get(c + 'self_attn.o_proj.weight', [D, H * dh])), [H, dh, D]));
		if (s.o_bias) w.set(p + 'b_O', ckpt.get(c + 'self_attn.o_proj.bias', [D]));
		w.set(p + 'W_gate', transpose(ckpt.get(c + 'mlp.gate_proj.weight', [M, D])));
		w.set(p + 'W_in', transpose(ckpt.get(c + 'mlp.up_proj.weight', [M, D])));
		w.set(p + 'W_out', transpose(ckpt.get(c + 'mlp.down_proj.weight', [D, M])));
	}
	w.set('ln_final.w', ckpt.get('model.norm.weight', [D]));
	if (!s.tied) w.set('W_U', transpose(ckpt.get('lm_head.weight', [V, D])));
	return w;
}
