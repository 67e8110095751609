// Shared state of one graph build: the writer, the spec, weight initializers, which hooks become
// outputs and which interventions exist as inputs. attention.ts, mlp.ts and forward.ts read it.
import { allHookNames, hookShape, type HookName } from '../model/hooks';
import type { Spec } from '../model/spec';
import { canonicalShapes } from '../model/spec';
import { weightDtype, type Weight } from '../model/tensor';
import { GraphWriter, type Dim } from './onnx';

/** Head interventions on hook_z: mask [B,L,H] ('head') or [B,L,H,T] ('head_pos'), replacement [B,L,H,T,dh]. */
export type HeadInterventions = 'none' | 'head' | 'head_pos';
/** MLP interventions on hook_post: mask [B,L] ('layer') or [B,L,M] ('neuron'), replacement [B,L,T,M]. */
export type MlpInterventions = 'none' | 'layer' | 'neuron';
/** 'gather': logits only at the positions of an extra int64 input [B,P] (skips the vocab projection elsewhere). */
export type LogitPositions = 'all' | 'gather';

export interface GraphOptions {
	/** Hook points to return as graph outputs ('logits' is always an output). */
	hooks?: readonly HookName[];
	heads?: HeadInterventions;
	mlps?: MlpInterventions;
	positions?: LogitPositions;
	/**
	 * First block to compute (default 0). Above 0 the graph takes `resid_pre` [B,T,D] (that block's
	 * hook_resid_pre, e.g. cached from a clean run) instead of tokens and skips the blocks below it:
	 * scans whose interventions start at block l reuse the unchanged residual rather than recompute it.
	 */
	startLayer?: number;
	/**
	 * With positions 'gather': score the gathered logits inside the graph, so the [B,P,V] logits never
	 * leave onnxruntime. Takes `targets` int64 [B,P,K] (the token ids read at each position) and
	 * outputs `score_logsumexp` [B,P], `score_argmax` [B,P] (int64) and `score_logits` [B,P,K]
	 * (see OUTPUTS) instead of `logits`: all the metrics of DESIGN §5 need.
	 */
	score?: boolean;
	/** When scoring, output `logits` as well (default false). */
	logits?: boolean;
	/**
	 * Half weights are cast when their block starts rather than wherever onnxruntime likes (see
	 * GraphWriter.castAfter): for sessions that keep them half (the engine's cast at use, no constant folding).
	 */
	castAtUse?: boolean;
	/**
	 * With `score`: direct logit attribution and the logit lens of the `targets` ids at the gathered
	 * positions (graph/attribution.ts; outputs ATTRIBUTION). Needs startLayer 0.
	 */
	attribute?: boolean;
	/**
	 * Output `z_free` [B,L',H,T,dh] (L' = the blocks from startLayer): every head's z as its attention
	 * computed it, before the head intervention replaced it. Head-to-head path patching records a
	 * receiver's z this way while every head's output stays frozen.
	 */
	freeZ?: boolean;
}

/** Graph input names, fed by the runtime. */
export const INPUTS = Object.freeze({
	tokens: 'tokens',
	headMask: 'head_mask',
	headRepl: 'head_repl',
	mlpMask: 'mlp_mask',
	mlpRepl: 'mlp_repl',
	positions: 'positions',
	residPre: 'resid_pre',
	targets: 'targets'
});

/** Graph output names besides the hooks: logits, and what a scoring graph returns in their place. */
export const OUTPUTS = Object.freeze({
	logits: 'logits',
	/** log Σ_v exp(logit_v) at each gathered position, float32 [B,P]. */
	logsumexp: 'score_logsumexp',
	/** The first index of the largest logit (ONNX ArgMax's default, as metrics.ts picks), int64 [B,P]. */
	argmax: 'score_argmax',
	/** The logits of the `targets` ids, float32 [B,P,K]. */
	targetLogits: 'score_logits'
});

/** Outputs of an attributing graph (GraphOptions.attribute): per gathered position p and target id k. */
export const ATTRIBUTION = Object.freeze({
	/** [B,P,K]: hook_embed's share of the logit. */
	embed: 'attr_embed',
	/** [B,P,K]: hook_pos_embed's (standard positions only). */
	pos: 'attr_pos_embed',
	/** [B,P,L,H,K]: each head's hook_result. */
	heads: 'attr_heads',
	/** [B,P,L,K]: each attention output bias (models with b_O). */
	bias: 'attr_b_O',
	/** [B,P,L,K]: each hook_mlp_out (models with MLPs). */
	mlps: 'attr_mlps',
	/** [B,P,K]: the final norm's bias and b_U (absent when the model has neither: 0). */
	constant: 'attr_constant',
	/** [B,P,L+1]: log p of targets[..., 0] read from each block's hook_resid_pre and the last hook_resid_post. */
	lensLogprob: 'lens_logprob',
	/** [B,P,L+1]: its rank there, 1 + the number of larger logits. */
	lensRank: 'lens_rank'
});

/** The pre-intervention z of every computed block (GraphOptions.freeZ). */
export const Z_FREE = 'z_free';

/** Dynamic axes (dimParam): batch and sequence length; P = gathered positions per row; K = scored ids per position. */
export const B = 'B';
export const T = 'T';
export const P = 'P';
export const K = 'K';

/** Shape of a hook point (DESIGN §3, the table in model/hooks.ts), batch first; its 'B' and 'T' are the dimParams B and T. */
export const hookDims = (s: Spec, hook: HookName): Dim[] => hookShape(s, hook);

export class BuildContext {
	readonly g = new GraphWriter();
	readonly hooks: ReadonlySet<HookName>;
	readonly heads: HeadInterventions;
	readonly mlps: MlpInterventions;
	/** Values the forward hands to attribution.ts and the z_free output, per block (filled as blocks are built). */
	readonly traced = { z: [] as string[], zFree: [] as string[], mlpOut: [] as string[], residPre: [] as string[] };
	private readonly shapes: Map<string, number[]>;
	private readonly registered = new Set<string>();
	private readonly memo = new Map<string, string>();

	constructor(
		readonly spec: Spec,
		private readonly weights: ReadonlyMap<string, Weight>,
		options: GraphOptions
	) {
		this.shapes = canonicalShapes(spec);
		for (const [name, shape] of this.shapes) {
			const t = weights.get(name);
			if (!t) throw new Error(`buildGraph: missing weight '${name}' (expected shape [${shape}])`);
			if (t.shape.join() !== shape.join())
				throw new Error(`buildGraph: weight '${name}' has shape [${t.shape}], expected [${shape}]`);
		}
		const known = new Set<string>(allHookNames(spec));
		for (const h of options.hooks ?? [])
			if (!known.has(h)) throw new Error(`buildGraph: '${h}' is not a hook point of this ${spec.family} model`);
		this.hooks = new Set(options.hooks ?? []);
		this.heads = options.heads ?? 'none';
		this.mlps = options.mlps ?? 'none';
		if (spec.attn_only && this.mlps !== 'none') throw new Error('buildGraph: attn_only model has no MLP to intervene on');
	}

	/** The canonical weight `name` as an initializer (added on first use). */
	w(name: string): string {
		if (!this.registered.has(name)) {
			const t = this.weights.get(name);
			if (!t) throw new Error(`buildGraph: weight '${name}' is not part of this spec`);
			this.g.weight(name, t.data, t.shape, weightDtype(t));
			this.registered.add(name);
		}
		return this.g.use(name);
	}

	/**
	 * A weight in another layout, computed once per graph from the canonical one (e.g. per-head W_Q as
	 * one [D, H*dh] matrix) and kept at its precision (`from`'s, float32 when omitted).
	 */
	derived(name: string, make: () => { data: Float32Array | Uint16Array; dims: number[] }, from?: Weight): string {
		if (!this.registered.has(name)) {
			const { data, dims } = make();
			this.g.weight(name, data, dims, from ? weightDtype(from) : 'float32');
			this.registered.add(name);
		}
		return this.g.use(name);
	}

	/** Builds a value once per graph (rotary tables sliced to T, the causal mask) and reuses it. */
	once(key: string, make: () => string): string {
		let v = this.memo.get(key);
		if (v === undefined) this.memo.set(key, (v = make()));
		return v;
	}

	canonical(name: string): Weight {
		const t = this.weights.get(name);
		if (!t) throw new Error(`buildGraph: weight '${name}' is not part of this spec`);
		return t;
	}

	has(name: string): boolean {
		return this.shapes.has(name);
	}

	wants(hook: HookName): boolean {
		return this.hooks.has(hook);
	}

	/** Marks `value` as hook point `name`: a graph output when requested. Returns the value downstream code uses. */
	hook(name: HookName, value: string): string {
		if (!this.hooks.has(name) || name === 'logits') return value;
		this.g.identity(value, name);
		this.g.output(name, 'float32', hookDims(this.spec, name));
		return name;
	}
}
