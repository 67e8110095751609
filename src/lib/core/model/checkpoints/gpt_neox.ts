// GPT-NeoX (Pythia) checkpoints -> canonical weights. query_key_value is one nn.Linear whose rows are
// interleaved per head: [H, (q|k|v), d_head, D], unlike GPT-2's three column blocks. Only the first
// rotary_pct of each head is rotated (see config.ts); embed_out is the separate unembedding.
import type { Spec } from '../spec';
import type { Weight } from '../tensor';
import { narrow, permute, reshape, transpose, type CheckpointReader } from './ops';

export function gptNeoxWeights(s: Spec, ckpt: CheckpointReader): Map<string, Weight> {
	const { d_model: D, n_heads: H, d_head: dh, d_mlp: M, d_vocab: V } = s;
	const P = 'gpt_neox.';
	const w = new Map<string, Weight>();
	w.set('W_E', ckpt.get(P + 'embed_in.weight', [V, D]));
	for (let l = 0; l < s.n_layers; l++) {
		const p = `blocks.${l}.`;
		const c = `${P}layers.${l}.`;
		for (const [ours, theirs] of [['ln1', 'input_layernorm'], ['ln2', 'post_attention_layernorm']]) {
			w.set(`${p}${ours}.w`, ckpt.get(`${c}${theirs}.weight`, [D]));
			w.set(`${p}${ours}.b`, ckpt.get(`${c}${theirs}.bias`, [D]));
		}
		const qkv = reshape(ckpt.get(c + 'attention.query_key_value.weight', [3 * H * dh, D]), [H, 3, dh, D]);
		const qkvBias = s.qkv_bias ? reshape(ckpt.get(c + 'attention.query_key_value.bias', [3 * H * dh]), [H, 3, dh]) : null;
		['Q', 'K', 'V'].forEach((n, i) => {
			// [H, 1, dh, D] -> [H, dh, D] -> [H, D, dh]
			w.set(`${p}W_${n}`, permute(reshape(narrow(qkv, 1, i, 1), [H, dh, D]), [0, 2, 1]));
			if (qkvBias) w.set(`${p}b_${n}`, reshape(narrow(qkvBias, 1, i, 1), [H, dh]));
		});
		w.set(p + 'W_O', reshape(transpose(ckpt.get(c + 'attention.dense.weight', [D, H * dh])), [H, dh, D]));
		if (s.o_bias) w.set(p + 'b_O', ckpt.get(c + 'attention.dense.bias', [D]));
		w.set(p + 'W_in', transpose(ckpt.get(c + 'mlp.dense_h_to_4h.weight', [M, D])));
		w.set(p + 'b_in', ckpt.get(c + 'mlp.dense_h_to_4h.bias', [M]));
		w.set(p + 'W_out', transpose(ckpt.get(c + 'mlp.dense_4h_to_h.weight', [D, M])));
		w.set(p + 'b_out', ckpt.get(c + 'mlp.dense_4h_to_h.bias', [D]));
	}
	w.set('ln_final.w', ckpt.get(P + 'final_layer_norm.weight', [D]));
	w.set('ln_final.b', ckpt.get(P + 'final_layer_norm.bias', [D]));
	if (!s.tied) w.set('W_U', transpose(ckpt.get('embed_out.weight', [V, D])));
	return w;
}
