// Norms (LN / LNPre / RMS / None), activations and the (gated) MLP with its intervention on hook_post.
// Matches reference.py norm() and mlp(); per-option differences are the two small tables below.
import type { Act, Norm } from '../model/spec';
import type { GraphWriter } from './onnx';
import { float } from './onnx';
import { INPUTS, type BuildContext } from './context';

type Unary = (g: GraphWriter, x: string) => string;

/** Activation functions, written with primitive ops so every execution provider runs them. */
const ACTIVATIONS: Readonly<Record<Act, Unary>> = Object.freeze({
	relu: (g, x) => g.op('Relu', [x]),
	// exact GELU: x/2 (1 + erf(x / sqrt 2))
	gelu: (g, x) => g.mul(g.mul(x, g.f32([0.5])), g.add(g.f32([1]), g.op('Erf', [g.div(x, g.f32([Math.SQRT2]))]))),
	// GPT-2's tanh approximation: x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
	gelu_new: (g, x) => {
		const cube = g.mul(g.mul(x, x), x);
		const inner = g.mul(g.f32([Math.sqrt(2 / Math.PI)]), g.add(x, g.mul(g.f32([0.044715]), cube)));
		return g.mul(g.mul(x, g.f32([0.5])), g.add(g.f32([1]), g.op('Tanh', [inner])));
	},
	silu: (g, x) => g.mul(x, g.op('Sigmoid', [x]))
});

type NormFn = (ctx: BuildContext, x: string, prefix: string) => string;

/** Normalisation over the last axis of x [B,T,D]; prefix names the weights (`blocks.0.ln1`, `ln_final`). */
const NORMS: Readonly<Record<Norm, NormFn>> = Object.freeze({
	None: (_ctx, x) => x,
	// LayerNorm: (x - mean) / sqrt(var + eps) * w + b
	LN: (ctx, x, prefix) => {
		const inputs = [x, ctx.w(`${prefix}.w`)];
		if (ctx.has(`${prefix}.b`)) inputs.push(ctx.w(`${prefix}.b`));
		return ctx.g.op('LayerNormalization', inputs, { axis: -1, epsilon: float(ctx.spec.eps) });
	},
	// LayerNorm without the affine part (TransformerLens folds w and b into the next layer)
	LNPre: (ctx, x) =>
		ctx.g.op('LayerNormalization', [x, ctx.g.f32(new Float32Array(ctx.spec.d_model).fill(1), [ctx.spec.d_model])], {
			axis: -1,
			epsilon: float(ctx.spec.eps)
		}),
	// RMSNorm: x / sqrt(mean(x^2) + eps) * w
	RMS: (ctx, x, prefix) => {
		const { g } = ctx;
		const meanSquare = g.op('ReduceMean', [g.mul(x, x)], { axes: [-1], keepdims: 1 });
		const rms = g.op('Sqrt', [g.add(meanSquare, g.f32([ctx.spec.eps]))]);
		return g.mul(g.div(x, rms), ctx.w(`${prefix}.w`));
	}
});

export const norm = (ctx: BuildContext, x: string, prefix: string): string => NORMS[ctx.spec.norm](ctx, x, prefix);

/** post [B,T,M] -> m * post + (1 - m) * r for layer l, from mlp_mask [B,L] | [B,L,M] and mlp_repl [B,L,T,M]. */
function interveneMlp(ctx: BuildContext, l: number, post: string): string {
	const { g } = ctx;
	const mask = g.pick(INPUTS.mlpMask, l, 1); // [B] or [B,M]
	const m = ctx.mlps === 'layer' ? g.unsqueeze(mask, [1, 2]) : g.unsqueeze(mask, [1]); // [B,1,1] | [B,1,M]
	return g.blend(m, post, g.pick(INPUTS.mlpRepl, l, 1));
}

/** One MLP on the normalised residual h [B,T,D]; returns hook_mlp_out [B,T,D]. Gated: act(h W_gate) * (h W_in). */
export function mlp(ctx: BuildContext, l: number, h: string): string {
	const { g, spec: s } = ctx;
	const p = `blocks.${l}.` as const;
	const act = ACTIVATIONS[s.act];
	let up = g.matmul(h, ctx.w(`${p}W_in`)); // [B, T, M]
	if (s.mlp_bias) up = g.add(up, ctx.w(`${p}b_in`));
	let post: string;
	if (s.gated) {
		const gate = ctx.hook(`${p}mlp.hook_pre`, g.matmul(h, ctx.w(`${p}W_gate`)));
		post = g.mul(act(g, gate), ctx.hook(`${p}mlp.hook_pre_linear`, up));
	} else {
		post = act(g, ctx.hook(`${p}mlp.hook_pre`, up));
	}
	if (ctx.mlps !== 'none') post = interveneMlp(ctx, l, post);
	post = ctx.hook(`${p}mlp.hook_post`, post);
	let out = g.matmul(post, ctx.w(`${p}W_out`)); // [B, T, D]
	if (s.mlp_bias) out = g.add(out, ctx.w(`${p}b_out`));
	ctx.traced.mlpOut.push(out);
	return ctx.hook(`${p}hook_mlp_out`, out);
}
