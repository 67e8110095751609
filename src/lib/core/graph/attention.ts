// Causal multi-head attention with grouped-query heads, rotary positions, per-head outputs and the
// head intervention on hook_z: z' = m * z + (1 - m) * r (DESIGN §4). Matches reference.py attention().
import type { Spec } from '../model/spec';
import { attnScale, rotaryRows } from '../model/spec';
import { INPUTS, type BuildContext } from './context';

/** h [B,T,D] -> [B,T,heads,dh]: x W_{Q,K,V} (+ b), with the per-head weights [heads, D, dh] laid out as one [D, heads*dh] matrix. */
function project(ctx: BuildContext, l: number, h: string, which: 'Q' | 'K' | 'V'): string {
	const { g, spec: s } = ctx;
	const name = `blocks.${l}.W_${which}`;
	const W = ctx.canonical(name);
	const [heads, D, dh] = W.shape;
	const cols = ctx.derived(`${name}:[D,heads*dh]`, () => {
		const out = W.data instanceof Float32Array ? new Float32Array(W.data.length) : new Uint16Array(W.data.length);
		for (let k = 0; k < heads; k++)
			for (let d = 0; d < D; d++)
				for (let e = 0; e < dh; e++) out[d * heads * dh + k * dh + e] = W.data[(k * D + d) * dh + e];
		return { data: out, dims: [D, heads * dh] };
	}, W);
	let y = g.matmul(h, cols); // [B, T, heads*dh]
	if (s.qkv_bias) {
		const b = ctx.canonical(`blocks.${l}.b_${which}`); // [heads, dh] is already row-major [heads*dh]
		y = g.add(y, ctx.derived(`blocks.${l}.b_${which}:[heads*dh]`, () => ({ data: b.data, dims: [heads * dh] }), b));
	}
	return g.reshape(y, [0, 0, heads, dh]); // [B, T, heads, dh]
}

// Rotary tables hold rotaryRows(s) positions (model/spec.ts), computed here in float64 and rounded like
// the reference rather than by Cos/Sin in the graph: WebGPU's sin and cos are only required to be
// within 2^-11 (that put the logits 1e-3 off on SwiftShader).
// Made once per model: every graph variant (a scan builds a dozen) and both of its tables reuse them.
const TABLES = new WeakMap<Spec, { cos: Float32Array; sin: Float32Array }>();

/** cos / sin tables [rows, 1, rotary_dim] for rotate_half RoPE, in float32 like the reference. */
function rotaryTables(s: Spec): { cos: Float32Array; sin: Float32Array } {
	const made = TABLES.get(s);
	if (made) return made;
	const dim = s.rotary_dim;
	const rows = rotaryRows(s);
	const cos = new Float32Array(rows * dim);
	const sin = new Float32Array(rows * dim);
	for (let i = 0; i < dim / 2; i++) {
		const invFreq = Math.fround(1 / Math.fround(s.rotary_base ** Math.fround((2 * i) / dim)));
		for (let t = 0; t < rows; t++) {
			const angle = Math.fround(t * invFreq);
			// emb = cat([freqs, freqs]): feature i and i + dim/2 share a frequency
			for (const j of [i, i + dim / 2]) {
				cos[t * dim + j] = Math.cos(angle);
				sin[t * dim + j] = Math.sin(angle);
			}
		}
	}
	TABLES.set(s, { cos, sin });
	return { cos, sin };
}

/** x [B,T,heads,dh]: rotate the first rotary_dim features of each head by its position (rotate_half convention). */
function rotary(ctx: BuildContext, x: string, seqLen: string): string {
	const { g, spec: s } = ctx;
	const dim = s.rotary_dim;
	const half = dim / 2;
	const table = (which: 'cos' | 'sin') =>
		ctx.once(`rotary.${which}[:T]`, () => {
			const full = ctx.derived(`rotary.${which}`, () => ({ data: rotaryTables(s)[which], dims: [rotaryRows(s), 1, dim] }));
			return g.slice(full, 0, seqLen, 0);
		});
	const [cos, sin] = [table('cos'), table('sin')]; // [T, 1, dim]
	const rot = dim === s.d_head ? x : g.slice(x, 0, dim, 3);
	const rotatedHalf = g.op('Concat', [g.op('Neg', [g.slice(rot, half, dim, 3)]), g.slice(rot, 0, half, 3)], { axis: 3 });
	const turned = g.add(g.mul(rot, cos), g.mul(rotatedHalf, sin));
	return dim === s.d_head ? turned : g.op('Concat', [turned, g.slice(x, dim, s.d_head, 3)], { axis: 3 });
}

/** z [B,H,T,dh] -> m * z + (1 - m) * r for layer l, from head_mask [B,L,H] | [B,L,H,T] and head_repl [B,L,H,T,dh]. */
function interveneHeads(ctx: BuildContext, l: number, z: string): string {
	const { g } = ctx;
	const mask = g.pick(INPUTS.headMask, l, 1); // [B,H] or [B,H,T]
	const m = ctx.heads === 'head' ? g.unsqueeze(mask, [2, 3]) : g.unsqueeze(mask, [3]); // [B,H,1,1] | [B,H,T,1]
	const r = g.pick(INPUTS.headRepl, l, 1); // [B,H,T,dh]
	return g.blend(m, z, r);
}

/**
 * One attention layer on the normalised residual h [B,T,D]; returns hook_attn_out [B,T,D].
 * `future` is the bool [T,T] mask of keys after the query (shared by all layers); `seqLen` is T as int64 [1].
 */
export function attention(ctx: BuildContext, l: number, h: string, future: string, seqLen: string): string {
	const { g, spec: s } = ctx;
	const { n_heads: H, n_kv_heads: K, d_head: dh, d_model: D } = s;
	const a = `blocks.${l}.attn.` as const;

	const q = ctx.hook(`${a}hook_q`, project(ctx, l, h, 'Q')); // [B, T, H, dh]
	const k = ctx.hook(`${a}hook_k`, project(ctx, l, h, 'K')); // [B, T, Hkv, dh]
	const v = ctx.hook(`${a}hook_v`, project(ctx, l, h, 'V')); // [B, T, Hkv, dh]
	let [qr, kr, vr] = s.pos === 'rotary' ? [rotary(ctx, q, seqLen), rotary(ctx, k, seqLen), v] : [q, k, v];
	if (K < H) {
		// grouped-query attention: query head i reads kv head floor(i / (H / Hkv))
		const kvOf = g.i64(Array.from({ length: H }, (_, i) => Math.floor(i / (H / K))));
		kr = g.op('Gather', [kr, kvOf], { axis: 2 });
		vr = g.op('Gather', [vr, kvOf], { axis: 2 });
	}
	const qh = g.transpose(qr, [0, 2, 1, 3]); // [B, H, T, dh]
	const kt = g.transpose(kr, [0, 2, 3, 1]); // [B, H, dh, T]
	const vh = g.transpose(vr, [0, 2, 1, 3]); // [B, H, T, dh]

	const raw = g.div(g.matmul(qh, kt), g.f32([attnScale(s)])); // [B, H, T, T]
	const scores = ctx.hook(`${a}hook_attn_scores`, g.op('Where', [future, g.f32([-Infinity]), raw]));
	const pattern = ctx.hook(`${a}hook_pattern`, g.op('Softmax', [scores], { axis: -1 }));
	let z = g.matmul(pattern, vh); // [B, H, T, dh]
	ctx.traced.zFree.push(z);
	if (ctx.heads !== 'none') z = interveneHeads(ctx, l, z);
	const zt = ctx.hook(`${a}hook_z`, g.transpose(z, [0, 2, 1, 3])); // [B, T, H, dh]
	ctx.traced.z.push(zt);

	const W_O = ctx.w(`blocks.${l}.W_O`); // [H, dh, D]
	let out: string;
	if (ctx.wants(`${a}hook_result`)) {
		// per-head outputs z_h W_O[h], summed over heads (TransformerLens use_attn_result)
		const perHead = g.transpose(g.matmul(z, W_O), [0, 2, 1, 3]); // [B, T, H, D]
		out = g.op('ReduceSum', [ctx.hook(`${a}hook_result`, perHead), g.i64([2])], { keepdims: 0 });
	} else {
		out = g.matmul(g.reshape(zt, [0, 0, H * dh]), g.reshape(W_O, [H * dh, D])); // [B, T, D]
	}
	if (s.o_bias) out = g.add(out, ctx.w(`blocks.${l}.b_O`));
	return ctx.hook(`blocks.${l}.hook_attn_out`, out);
}
