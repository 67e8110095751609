// GPT-2 checkpoints -> canonical weights. GPT-2 uses Conv1D, which stores weights [in, out] (the
// transpose of nn.Linear), and fuses q|k|v into one c_attn matrix whose columns are three blocks of
// d_model, each a run of d_head columns per head. Names may or may not carry a `transformer.` prefix
// (GPT2LMHeadModel vs GPT2Model); lm_head.weight only exists when embeddings are untied.
import type { Spec } from '../spec';
import type { Weight } from '../tensor';
import { narrow, permute, reshape, transpose, type CheckpointReader } from './ops';

export function gpt2Weights(s: Spec, ckpt: CheckpointReader): Map<string, Weight> {
	const { d_model: D, n_heads: H, d_head: dh, d_mlp: M, d_vocab: V } = s;
	const P = ckpt.names().some((n) => n.startsWith('transformer.')) ? 'transformer.' : '';
	const w = new Map<string, Weight>();
	w.set('W_E', ckpt.get(P + 'wte.weight', [V, D]));
	w.set('W_pos', ckpt.get(P + 'wpe.weight', [s.n_ctx, D]));
	for (let l = 0; l < s.n_layers; l++) {
		const p = `blocks.${l}.`;
		const c = `${P}h.${l}.`;
		for (const [ours, theirs] of [['ln1', 'ln_1'], ['ln2', 'ln_2']]) {
			w.set(`${p}${ours}.w`, ckpt.get(`${c}${theirs}.weight`, [D]));
			w.set(`${p}${ours}.b`, ckpt.get(`${c}${theirs}.bias`, [D]));
		}
		const qkv = ckpt.get(c + 'attn.c_attn.weight', [D, 3 * D]);
		const qkvBias = ckpt.get(c + 'attn.c_attn.bias', [3 * D]);
		['Q', 'K', 'V'].forEach((n, i) => {
			// [D, D] column block -> [D, H, dh] -> [H, D, dh]
			w.set(`${p}W_${n}`, permute(reshape(narrow(qkv, 1, i * D, D), [D, H, dh]), [1, 0, 2]));
			w.set(`${p}b_${n}`, reshape(narrow(qkvBias, 0, i * D, D), [H, dh]));
		});
		w.set(p + 'W_O', reshape(ckpt.get(c + 'attn.c_proj.weight', [D, D]), [H, dh, D]));
		w.set(p + 'b_O', ckpt.get(c + 'attn.c_proj.bias', [D]));
		w.set(p + 'W_in', ckpt.get(c + 'mlp.c_fc.weight', [D, M]));
		w.set(p + 'b_in', ckpt.get(c + 'mlp.c_fc.bias', [M]));
		w.set(p + 'W_out', ckpt.get(c + 'mlp.c_proj.weight', [M, D]));
		w.set(p + 'b_out', ckpt.get(c + 'mlp.c_proj.bias', [D]));
	}
	w.set('ln_final.w', ckpt.get(P + 'ln_f.weight', [D]));
	w.set('ln_final.b', ckpt.get(P + 'ln_f.bias', [D]));
	if (!s.tied) w.set('W_U', transpose(ckpt.get('lm_head.weight', [V, D])));
	return w;
}
