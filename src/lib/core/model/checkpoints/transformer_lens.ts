// TransformerLens state dicts -> canonical weights. Canonical names are TransformerLens' own minus
// the module part (`blocks.0.attn.W_Q` -> `blocks.0.W_Q`, `embed.W_E` -> `W_E`), and the layouts are
// already [n_heads, d_model, d_head]. With grouped-query attention TransformerLens stores the
// un-repeated key/value weights as `attn._W_K` / `attn._W_V` (and `_b_K`, `_b_V`).
import { canonicalShapes, type Spec } from '../spec';
import type { Weight } from '../tensor';
import type { CheckpointReader } from './ops';

const TOP_LEVEL: Record<string, string> = { W_E: 'embed.W_E', W_pos: 'pos_embed.W_pos', W_U: 'unembed.W_U', b_U: 'unembed.b_U' };

/** Canonical name -> TransformerLens state-dict name. */
function tlName(name: string): string {
	if (name in TOP_LEVEL) return TOP_LEVEL[name];
	if (!name.startsWith('blocks.')) return name; // ln_final.w / ln_final.b
	const [, layer, rest] = name.match(/^blocks\.(\d+)\.(.*)$/)!;
	if (rest.startsWith('ln')) return name;
	const module = 'QKVO'.includes(rest[2]) ? 'attn' : 'mlp'; // W_Q, b_O -> attn; W_in, W_gate -> mlp
	return `blocks.${layer}.${module}.${rest}`;
}

export function transformerLensWeights(s: Spec, ckpt: CheckpointReader): Map<string, Weight> {
	const w = new Map<string, Weight>();
	for (const [name, shape] of canonicalShapes(s)) {
		let tl = tlName(name);
		if (!ckpt.has(tl) && /\.(W|b)_[KV]$/.test(tl)) tl = tl.replace(/\.(W|b)_([KV])$/, '._$1_$2');
		w.set(name, ckpt.get(tl, shape));
	}
	return w;
}
