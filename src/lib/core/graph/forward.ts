// The transformer forward as one ONNX graph, read top to bottom like reference.py forward():
//   x = W_E[tokens] (+ W_pos[:T])
//   per block: x = x + attn(ln1(x)); x = x + mlp(ln2(x))      (sequential residual)
//              x = x + attn(ln1(x)) + mlp(ln2(x))             (parallel residual, GPT-NeoX)
//   logits = ln_final(x) W_U (+ b_U)                           (W_U = W_E^T when tied)
// onnxruntime returns only graph outputs, so every requested hook point becomes one, and every
// intervention kind becomes an input; a graph holds only what its caller asked for. A scoring graph
// returns what the metrics read from the logits (log-normaliser, argmax, target logits) instead.
import type { Spec } from '../model/spec';
import type { Weight } from '../model/tensor';
import type { EncodedModel } from './onnx';
import { attention } from './attention';
import { attributionOutputs, gatherAt } from './attribution';
import { B, BuildContext, INPUTS, K, OUTPUTS, P, T, Z_FREE, type GraphOptions } from './context';
import { mlp, norm } from './mlp';

/** Declares the graph inputs the options call for (every declared input must be fed, DESIGN §9). */
function declareInputs(ctx: BuildContext, positions: GraphOptions['positions'], startLayer: number, score: boolean): void {
	const { g, spec: s } = ctx;
	const { n_layers: L, n_heads: H, d_head: dh, d_mlp: M } = s;
	if (startLayer === 0) g.input(INPUTS.tokens, 'int64', [B, T]);
	else g.input(INPUTS.residPre, 'float32', [B, T, s.d_model]);
	if (ctx.heads !== 'none') {
		g.input(INPUTS.headMask, 'float32', ctx.heads === 'head' ? [B, L, H] : [B, L, H, T]);
		g.input(INPUTS.headRepl, 'float32', [B, L, H, T, dh]);
	}
	if (ctx.mlps !== 'none') {
		g.input(INPUTS.mlpMask, 'float32', ctx.mlps === 'layer' ? [B, L] : [B, L, M]);
		g.input(INPUTS.mlpRepl, 'float32', [B, L, T, M]);
	}
	if (positions === 'gather') g.input(INPUTS.positions, 'int64', [B, P]);
	if (score) g.input(INPUTS.targets, 'int64', [B, P, K]);
}

/** T as int64 [1] (axis 1 of the graph's first input) and the bool [T, T] mask of keys after their query (the causal mask). */
function sequence(ctx: BuildContext, input: string): { seqLen: string; future: string } {
	const { g } = ctx;
	const seqLen = g.op('Shape', [input], { start: 1, end: 2 }); // [1]
	const idx = g.op('Range', [g.i64([0], []), g.op('Squeeze', [seqLen, g.i64([0])]), g.i64([1], [])]); // [T]
	const future = g.op('Greater', [g.unsqueeze(idx, [0]), g.unsqueeze(idx, [1])]); // [T, T]: key > query
	return { seqLen, future };
}

/** x [B,T,D] -> x[b, positions[b, p]] [B,P,D], so the vocab projection runs only where logits are read. */
const gatherPositions = (ctx: BuildContext, x: string): string => gatherAt(ctx, x, [ctx.spec.d_model]);

/**
 * Whether the last block's MLP can run at the gathered positions only: nothing after its attention
 * reads other positions, so unless an MLP intervention (whose replacement spans every position) or a
 * hook from that MLP onward asks for them, the residual is gathered before the MLP rather than after
 * ln_final. Saves the MLP at T − P positions of every row (5 of 7 in a GPT-2 head scan of 8-token rows).
 */
function gatherBeforeLastMlp(ctx: BuildContext, positions: GraphOptions['positions'], attribute: boolean): boolean {
	const last = `blocks.${ctx.spec.n_layers - 1}.`;
	const afterAttention = (h: string) =>
		h === 'ln_final.hook_normalized' || h.startsWith(`${last}mlp.`) || h === `${last}hook_mlp_out` || h === `${last}hook_resid_post`;
	return positions === 'gather' && !attribute && !ctx.spec.attn_only && ctx.mlps === 'none' && ![...ctx.hooks].some(afterAttention);
}

/**
 * x [B,N,D] -> x W_U [B,N,V]. A tied head multiplies by W_E [V,D] transposed inside Gemm (transB)
 * rather than through a Transpose node, which onnxruntime would fold into a second copy of W_E at
 * every session start (~0.15 s and 154 MB per GPT-2-small graph).
 */
function unembed(ctx: BuildContext, x: string): string {
	const { g, spec: s } = ctx;
	if (!s.tied) return g.matmul(x, ctx.w('W_U'));
	const rows = g.reshape(x, [-1, s.d_model]); // Gemm takes 2-D operands
	const shape = g.op('Concat', [g.op('Shape', [x], { start: 0, end: 2 }), g.i64([s.d_vocab])], { axis: 0 });
	return g.op('Reshape', [g.op('Gemm', [rows, ctx.w('W_E')], { transB: 1 }), shape]);
}

/**
 * Scoring outputs from logits [B,P,V]. The log-normaliser is written out as max + log Σ exp(x − max):
 * on onnxruntime's CPU kernels that ran 3-4x faster than ReduceLogSumExp on GPT-2's vocabulary
 * (~10 vs 30-40 ms for 170 × 50257 logits), with a smaller float32 error (2e-6 vs 1.4e-5 vs float64).
 */
function scoreOutputs(ctx: BuildContext, logits: string): void {
	const { g } = ctx;
	const max = g.op('ReduceMax', [logits], { axes: [2], keepdims: 1 }); // [B, P, 1]
	const sum = g.op('ReduceSum', [g.op('Exp', [g.sub(logits, max)]), g.i64([2])], { keepdims: 1 });
	g.op('Squeeze', [g.add(g.op('Log', [sum]), max), g.i64([2])], {}, OUTPUTS.logsumexp);
	g.op('ArgMax', [logits], { axis: 2, keepdims: 0, select_last_index: 0 }, OUTPUTS.argmax); // first maximum on ties
	g.op('GatherElements', [logits, INPUTS.targets], { axis: 2 }, OUTPUTS.targetLogits);
	g.output(OUTPUTS.logsumexp, 'float32', [B, P]);
	g.output(OUTPUTS.argmax, 'int64', [B, P]);
	g.output(OUTPUTS.targetLogits, 'float32', [B, P, K]);
}

/** options.startLayer, checked: an integer block index, and no hook requested from the skipped blocks. */
function checkStartLayer(s: Spec, options: GraphOptions): number {
	const start = options.startLayer ?? 0;
	if (!Number.isInteger(start) || start < 0 || start >= s.n_layers)
		throw new Error(`buildGraph: startLayer ${start} is not a block index in [0, ${s.n_layers})`);
	for (const h of options.hooks ?? []) {
		const m = /^blocks\.(\d+)\./.exec(h);
		if ((m ? Number(m[1]) : h.startsWith('hook_') ? 0 : s.n_layers) < start) // embeddings count as block 0's input
			throw new Error(`buildGraph: hook '${h}' lies before startLayer ${start}, which the graph skips`);
	}
	return start;
}

/**
 * ONNX model bytes for `spec` with canonical `weights` (names and shapes of canonicalShapes(spec)).
 * Outputs: `logits` [B,T,V] ([B,P,V] with positions 'gather') and each hook in options.hooks under its
 * own name; with `score`, the score outputs (OUTPUTS) in place of the logits unless options.logits.
 * Inputs: `tokens` int64 [B,T] (or `resid_pre` [B,T,D] with a startLayer above 0), plus
 * head_mask/head_repl, mlp_mask/mlp_repl, positions, targets when asked for.
 */
export function buildGraph(spec: Spec, weights: ReadonlyMap<string, Weight>, options: GraphOptions = {}): Uint8Array {
	return buildModel(spec, weights, options, Infinity).model;
}

/**
 * buildGraph with every weight of `externalAbove` bytes or more as ONNX external data (views of the
 * weights, not copies) beside the ModelProto: what the engine loads, so graphs over protobuf's 2 GiB
 * build and no weight is copied into a protobuf first.
 */
export function buildModel(spec: Spec, weights: ReadonlyMap<string, Weight>, options: GraphOptions, externalAbove: number): EncodedModel {
	const ctx = new BuildContext(spec, weights, options);
	const { g, spec: s } = ctx;
	const positions = options.positions ?? 'all';
	const start = checkStartLayer(s, options);
	const score = options.score ?? false;
	const attribute = options.attribute ?? false;
	if (score && positions !== 'gather') throw new Error("buildGraph: score needs positions 'gather'");
	if (attribute && (!score || start !== 0)) throw new Error('buildGraph: attribute needs score and startLayer 0');
	declareInputs(ctx, positions, start, score);
	const { seqLen, future } = sequence(ctx, start === 0 ? INPUTS.tokens : INPUTS.residPre);

	let x: string = INPUTS.residPre; // [B, T, D]
	let [embed, posEmbed]: (string | undefined)[] = [];
	if (start === 0) {
		x = embed = ctx.hook('hook_embed', g.op('Gather', [ctx.w('W_E'), INPUTS.tokens], { axis: 0 }));
		if (s.pos === 'standard') {
			let pos = g.slice(ctx.w('W_pos'), 0, seqLen, 0); // [T, D]
			if (ctx.wants('hook_pos_embed') || attribute) pos = posEmbed = ctx.hook('hook_pos_embed', g.op('Expand', [pos, g.op('Shape', [x])]));
			x = g.add(x, pos);
		}
	}
	const early = gatherBeforeLastMlp(ctx, positions, attribute);
	for (let l = start; l < s.n_layers; l++) {
		const p = `blocks.${l}.` as const;
		if (options.castAtUse) g.castAfter = x; // this block's half weights are widened once it starts
		const gather = early && l === s.n_layers - 1 ? (v: string) => gatherPositions(ctx, v) : (v: string) => v;
		const resid = ctx.hook(`${p}hook_resid_pre`, x);
		ctx.traced.residPre.push(resid);
		const attnOut = attention(ctx, l, norm(ctx, resid, `${p}ln1`), future, seqLen);
		if (s.attn_only) {
			x = ctx.hook(`${p}hook_resid_post`, g.add(resid, attnOut));
		} else if (s.parallel) {
			const r = gather(resid);
			const mlpOut = mlp(ctx, l, norm(ctx, r, `${p}ln2`));
			x = ctx.hook(`${p}hook_resid_post`, g.add(g.add(r, gather(attnOut)), mlpOut));
		} else {
			const mid = gather(ctx.hook(`${p}hook_resid_mid`, g.add(resid, attnOut)));
			x = ctx.hook(`${p}hook_resid_post`, g.add(mid, mlp(ctx, l, norm(ctx, mid, `${p}ln2`))));
		}
	}
	if (options.castAtUse) g.castAfter = x; // and the unembedding's (a tied W_E again) after the last block
	const toLogits = (h: string) => (s.unembed_bias ? g.add(unembed(ctx, h), ctx.w('b_U')) : unembed(ctx, h));
	if (attribute) attributionOutputs(ctx, { embed: embed!, pos: posEmbed, ...ctx.traced }, x, (r) => toLogits(norm(ctx, r, 'ln_final')));
	if (options.freeZ) {
		g.op('Concat', ctx.traced.zFree.map((z) => g.unsqueeze(z, [1])), { axis: 1 }, Z_FREE);
		g.output(Z_FREE, 'float32', [B, s.n_layers - start, s.n_heads, T, s.d_head]);
	}
	x = ctx.hook('ln_final.hook_normalized', norm(ctx, x, 'ln_final')); // [B, T, D], or [B, P, D] when gathered early
	if (positions === 'gather' && !early) x = gatherPositions(ctx, x); // [B, P, D]
	const logits = toLogits(x);
	if (score) scoreOutputs(ctx, logits);
	if (!score || options.logits) {
		g.identity(logits, OUTPUTS.logits);
		g.output(OUTPUTS.logits, 'float32', [B, positions === 'gather' ? P : T, s.d_vocab]);
	}
	return g.encodeModel(`arithlens ${s.family} forward; hooks: ${[...ctx.hooks].join(' ') || 'none'}`, externalAbove);
}
