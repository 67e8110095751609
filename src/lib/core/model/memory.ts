// The memory a model needs, from its config alone, so that a config claiming a billion layers is
// refused before anything is downloaded or allocated. Every buffer the engine holds is counted:
// the weights as the loader keeps them, the file bytes they are read from, onnxruntime's copy in a
// session (widened to f32 or kept half, as the engine decides with the same rule), one forward's
// activations and the rotary tables (the positions a run can use, at most ROTARY_POSITIONS).
import type { WeightPrecision } from './safetensors';
import { rotaryRows, type Spec } from './spec';

export const DEFAULT_MAX_BYTES = 2 * 1024 ** 3;

/**
 * Half-precision weights are widened to f32 inside an onnxruntime session (its constant folding, the
 * fastest to run) only while the widened weights stay within this many bytes; above it a session keeps
 * them half and casts each where it is used, so a 0.5B model holds 1 GB per session instead of 2.
 */
export const WIDEN_IN_SESSION_MAX_BYTES = 1024 ** 3;

/** Activation budget: one batch of this many sequences of up to this many tokens (arithmetic prompts are short). */
const BUDGET_BATCH = 8;
const BUDGET_TOKENS = 64;

/** Parameters of the canonical weights (canonicalShapes), as arithmetic on the spec. */
export function paramCount(s: Spec): number {
	const { n_layers: L, d_model: D, n_heads: H, n_kv_heads: K, d_head: dh, d_vocab: V } = s;
	const M = s.attn_only ? 0 : s.d_mlp;
	const perLayer = (H + 2 * K) * D * dh + H * dh * D + (s.gated ? 3 : 2) * D * M + 4 * D + 3 * H * dh + M + D;
	return V * D * (s.tied ? 1 : 2) + (s.pos === 'standard' ? s.n_ctx * D : 0) + L * perLayer + 2 * D + V;
}

/** Bytes per weight a checkpoint is stored in, from config.json's torch_dtype (f32 when it does not say). */
export function storedWeightBytes(config: unknown): 2 | 4 {
	const dtype = typeof config === 'object' && config !== null ? (config as Record<string, unknown>).torch_dtype : undefined;
	return dtype === 'float16' || dtype === 'bfloat16' ? 2 : 4;
}

/** Bytes per weight the loader keeps for a checkpoint stored at `stored` bytes per weight. */
export const keptWeightBytes = (stored: 2 | 4, precision: WeightPrecision): 2 | 4 =>
	precision === 'float32' ? 4 : precision === 'float16' ? 2 : stored;

export interface MemoryEstimate {
	/** The weights as the loader keeps them. */
	weights: number;
	/** The checkpoint's bytes, held while the weights are made from them. */
	file: number;
	/** onnxruntime's copy of the weights in one session. */
	session: number;
	/** One forward of BUDGET_BATCH x min(n_ctx, BUDGET_TOKENS) tokens: a block's activations (freed as it goes), the logits, and the half weight being cast. */
	activations: number;
	/** Rotary cos/sin tables for rotaryRows(s) positions, one copy in the weights and one in the session. */
	rotary: number;
	/** The peak: loading (file + weights) or running (weights + session + activations + rotary). */
	total: number;
}

/**
 * Memory for `s` stored at `stored` bytes per weight and loaded at `precision`. Pure arithmetic on the
 * spec: nothing is allocated, and n_ctx counts only where the model stores a position table (W_pos);
 * rotary tables stop at ROTARY_POSITIONS.
 */
export function estimateMemory(s: Spec, stored: 2 | 4 = 4, precision: WeightPrecision = 'auto'): MemoryEstimate {
	const P = paramCount(s);
	const kept = keptWeightBytes(stored, precision);
	const weights = P * kept;
	const widen = kept === 2 && 4 * P <= WIDEN_IN_SESSION_MAX_BYTES;
	const session = widen ? 4 * P : weights;
	const { d_model: D, n_heads: H, d_head: dh, d_vocab: V } = s;
	const M = s.attn_only ? 0 : s.d_mlp;
	const T = Math.min(s.n_ctx, BUDGET_TOKENS);
	// per token, one block: residual-sized values, q/k/v/z, per-head result, scores + pattern, MLP pre/post; and the logits
	const perToken = 6 * D + 4 * H * dh + H * D + 2 * H * T + 3 * M + V;
	// casting at use widens one weight at a time: the largest is the embedding (or an MLP matrix)
	const cast = kept === 2 && !widen ? 4 * Math.max(V * D, D * M) : 0;
	const activations = 4 * BUDGET_BATCH * T * perToken + cast;
	const rotary = s.pos === 'rotary' ? 2 * 2 * 4 * rotaryRows(s) * s.rotary_dim : 0;
	const file = P * stored;
	const total = Math.max(file + weights, weights + session + activations + rotary);
	return { weights, file, session, activations, rotary, total };
}

/** The peak bytes of estimateMemory: what loadModel compares with its limit. */
export const estimateBytes = (s: Spec, stored: 2 | 4 = 4, precision: WeightPrecision = 'auto'): number => estimateMemory(s, stored, precision).total;

/** GiB with 3 significant digits: '2 GiB', '2.31 GiB', '0.0123 GiB' (the CLI's --max-memory is in GiB too). */
export const gib = (n: number): string => `${Number((n / 1024 ** 3).toPrecision(3))} GiB`;
