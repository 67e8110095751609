// Direct logit attribution and the logit lens inside the graph (DESIGN §11), at the gathered scored
// positions only: no [B,T,H,D] per-head output ever leaves onnxruntime.
// The final residual is a sum of components (embeddings, each head's z_h W_O[h], each attention
// output bias, each MLP's output). With the final norm's statistics of this run frozen, the norm is
// linear in each component, so component c's share of the logit of token t is c · d_t with
//   d_t = (w ⊙ W_U[:, t]) / σ, centred over D for LayerNorm (centring c equals centring d_t),
// and the norm bias · W_U[:, t] + b_U[t] is one constant term. Components + constant = the logit.
// Logit lens: ln_final recomputed on each block's input residual and on the last block's output, then
// W_U: the answer token's log p and its rank (1 = the argmax) at each scored position.
import type { BuildContext } from './context';
import { ATTRIBUTION, B, INPUTS, K, P } from './context';

/** Components the forward hands over, all [B,T,...] at every position. */
export interface Components {
	embed: string;
	pos?: string;
	/** Per block: hook_z [B,T,H,dh] (after any intervention), its MLP's output [B,T,D]. */
	z: string[];
	mlpOut: string[];
	/** Per block: the residual entering it (hook_resid_pre), for the lens. */
	residPre: string[];
}

/** x [B,T,...rest] -> x[b, positions[b, p], ...] [B,P,...rest]. */
export function gatherAt(ctx: BuildContext, x: string, rest: number[]): string {
	const { g } = ctx;
	const axes = rest.map((_, i) => i + 2);
	const at = axes.length ? g.unsqueeze(INPUTS.positions, axes) : INPUTS.positions; // [B,P,1,...]
	const index = g.op('Expand', [at, g.i64([1, 1, ...rest])]);
	return g.op('GatherElements', [x, index], { axis: 1 });
}

/** W_U[:, targets] as [B,P,K,D] (rows of W_E when tied): the unembedding directions of the scored ids. */
function targetColumns(ctx: BuildContext): string {
	const { g, spec: s } = ctx;
	if (s.tied) return g.op('Gather', [ctx.w('W_E'), INPUTS.targets], { axis: 0 });
	return g.transpose(g.op('Gather', [ctx.w('W_U'), INPUTS.targets], { axis: 1 }), [1, 2, 3, 0]); // [D,B,P,K] -> [B,P,K,D]
}

/** 1 / the final norm's scale at each gathered position, [B,P,1,1]: σ for LN and LNPre, rms for RMS. */
function inverseScale(ctx: BuildContext, final: string): string | null {
	const { g, spec: s } = ctx;
	if (s.norm === 'None') return null;
	const meanOf = (x: string) => g.op('ReduceMean', [x], { axes: [-1], keepdims: 1 });
	const centred = s.norm === 'RMS' ? final : g.sub(final, meanOf(final));
	const scale = g.op('Sqrt', [g.add(meanOf(g.mul(centred, centred)), g.f32([s.eps]))]); // [B,P,1]
	return g.unsqueeze(g.div(g.f32([1]), scale), [3]);
}

/** d_t of the file comment, transposed for MatMul: [B,P,D,K]. */
function directions(ctx: BuildContext, columns: string, final: string): string {
	const { g, spec: s } = ctx;
	let d = columns; // [B,P,K,D]
	if (s.norm === 'LN' || s.norm === 'RMS') d = g.mul(d, ctx.w('ln_final.w'));
	if (s.norm === 'LN' || s.norm === 'LNPre') d = g.sub(d, g.op('ReduceMean', [d], { axes: [-1], keepdims: 1 }));
	const inv = inverseScale(ctx, final);
	if (inv) d = g.mul(d, inv);
	return g.transpose(d, [0, 1, 3, 2]);
}

/** c [B,P,D] · d -> [B,P,K]. */
function project(ctx: BuildContext, c: string, dT: string): string {
	const { g } = ctx;
	return g.op('Squeeze', [g.matmul(g.unsqueeze(c, [2]), dT), g.i64([2])]);
}

/** Per-block values [B,P,...] stacked on a new axis 2: [B,P,L,...]. */
function stack(ctx: BuildContext, values: string[]): string {
	const { g } = ctx;
	return g.op('Concat', values.map((v) => g.unsqueeze(v, [2])), { axis: 2 });
}

/**
 * The attribution outputs (ATTRIBUTION) from the components and the final residual x [B,T,D];
 * `logitsOf` is ln_final then the unembedding on [B,P,D] (forward.ts's), for the lens.
 */
export function attributionOutputs(ctx: BuildContext, parts: Components, x: string, logitsOf: (r: string) => string): void {
	const { g, spec: s } = ctx;
	const { n_heads: H, d_head: dh, d_model: D } = s;
	const final = gatherAt(ctx, x, [D]); // [B,P,D]
	const columns = targetColumns(ctx);
	const dT = directions(ctx, columns, final);
	const out = (name: string, value: string, dims: (string | number)[]) => {
		g.identity(value, name);
		g.output(name, 'float32', dims);
	};
	out(ATTRIBUTION.embed, project(ctx, gatherAt(ctx, parts.embed, [D]), dT), [B, P, K]);
	if (parts.pos) out(ATTRIBUTION.pos, project(ctx, gatherAt(ctx, parts.pos, [D]), dT), [B, P, K]);
	const L = parts.z.length;
	const heads = parts.z.map((z, l) => {
		const zg = g.unsqueeze(gatherAt(ctx, z, [H, dh]), [3]); // [B,P,H,1,dh]
		const result = g.op('Squeeze', [g.matmul(zg, ctx.w(`blocks.${l}.W_O`)), g.i64([3])]); // [B,P,H,D]
		return g.matmul(result, dT); // [B,P,H,K]
	});
	out(ATTRIBUTION.heads, stack(ctx, heads), [B, P, L, H, K]);
	if (s.o_bias) {
		const bias = parts.z.map((_, l) => g.matmul(ctx.w(`blocks.${l}.b_O`), dT)); // [D] · [B,P,D,K] -> [B,P,K] (MatMul drops a 1-D operand's axis)
		out(ATTRIBUTION.bias, stack(ctx, bias), [B, P, L, K]);
	}
	if (!s.attn_only) out(ATTRIBUTION.mlps, stack(ctx, parts.mlpOut.map((m) => project(ctx, gatherAt(ctx, m, [D]), dT))), [B, P, L, K]);
	const constant: string[] = [];
	if (ctx.has('ln_final.b')) constant.push(g.matmul(columns, ctx.w('ln_final.b'))); // [B,P,K,D] · [D] -> [B,P,K]
	if (s.unembed_bias) constant.push(g.op('Gather', [ctx.w('b_U'), INPUTS.targets], { axis: 0 }));
	if (constant.length) out(ATTRIBUTION.constant, constant.length === 2 ? g.add(constant[0], constant[1]) : constant[0], [B, P, K]);
	lens(ctx, [...parts.residPre, x], logitsOf);
}

/** Logit lens outputs: log p and rank of targets[..., 0] after ln_final and W_U on each residual, [B,P,L+1]. */
function lens(ctx: BuildContext, residuals: string[], logitsOf: (r: string) => string): void {
	const { g, spec: s } = ctx;
	const answer = g.slice(INPUTS.targets, 0, 1, 2); // [B,P,1]
	const logprobs: string[] = [];
	const ranks: string[] = [];
	for (const r of residuals) {
		const logits = logitsOf(gatherAt(ctx, r, [s.d_model])); // [B,P,V]
		const max = g.op('ReduceMax', [logits], { axes: [2], keepdims: 1 });
		const lse = g.add(g.op('Log', [g.op('ReduceSum', [g.op('Exp', [g.sub(logits, max)]), g.i64([2])], { keepdims: 1 })]), max);
		const target = g.op('GatherElements', [logits, answer], { axis: 2 }); // [B,P,1]
		logprobs.push(g.sub(target, lse));
		const above = g.op('Cast', [g.op('Greater', [logits, target])], { to: 1 }); // float
		ranks.push(g.add(g.op('ReduceSum', [above, g.i64([2])], { keepdims: 1 }), g.f32([1])));
	}
	const concat = (v: string[], name: string) => {
		g.op('Concat', v, { axis: 2 }, name);
		g.output(name, 'float32', [B, P, residuals.length]);
	};
	concat(logprobs, ATTRIBUTION.lensLogprob);
	concat(ranks, ATTRIBUTION.lensRank);
}
