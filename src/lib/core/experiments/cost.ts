// Cost model of a scan: bytes per batch row (batches.ts sizes batches from them), multiply-adds
// per row (reported as estimated FLOPs) and the choice of the blocks a scan restarts from, trading
// the blocks it skips against building one more graph variant per restart block.
import { gib } from '../model/memory';
import type { Spec } from '../model/spec';

/** Default memory budget for one batch's inputs, activations and logits. */
export const DEFAULT_MEMORY_BUDGET = 256 * 1024 ** 2;

/**
 * Building a graph variant and its onnxruntime session costs about as much as this many multiply-adds
 * per weight it holds, plus a fixed part. Measured with onnxruntime-node on 2 CPU cores running
 * ~90 GMAC/s: a GPT-2-small graph restarting at block 10 took ~0.6 s to build and load, one from
 * the tokens ~1.2 s, i.e. ~8 ns per weight plus ~0.2 s.
 */
const SESSION_MACS_PER_PARAM = 730;
const SESSION_FIXED_MACS = 18e9;

export interface RowShape {
	/** Tokens in the row. */
	T: number;
	/** Gathered logit positions. */
	P: number;
	/** Head intervention inputs: none, [L,H] mask, or [L,H,T] mask; both with the [L,H,T,dh] replacement. */
	heads: 'none' | 'head' | 'head_pos';
	/** MLP intervention inputs: none, [L] mask or [L,M] mask (one neuron); both with the [L,T,M] replacement. */
	mlps: 'none' | 'layer' | 'neuron';
	/** The row starts from a residual [T,D] instead of tokens. */
	resid: boolean;
}

/** Multiply-adds of one block for one token attending over T positions. */
function blockMacs(s: Spec, T: number): number {
	const { d_model: D, n_heads: H, n_kv_heads: K, d_head: dh } = s;
	const attn = D * (H + 2 * K) * dh + H * dh * D + 2 * H * T * dh; // q, k, v, o projections; scores and mixing
	const mlp = s.attn_only ? 0 : (s.gated ? 3 : 2) * D * s.d_mlp;
	return attn + mlp;
}

/**
 * Multiply-adds of one row of T tokens starting at block `start`, with logits at P positions and the
 * last block's MLP at `lastMlp` of them (the graph gathers before that MLP when nothing needs the rest).
 */
export function rowMacs(s: Spec, T: number, P: number, start = 0, lastMlp = T): number {
	const mlp = s.attn_only ? 0 : (s.gated ? 3 : 2) * s.d_model * s.d_mlp;
	return T * (s.n_layers - start) * blockMacs(s, T) - (T - lastMlp) * mlp + P * s.d_model * s.d_vocab;
}

/**
 * The least multiply-adds a scan of these rows can do, for its FLOP limit (bench/run.ts divides
 * 2 × this by the measured GEMM peak). A row of T tokens (cut after its last scored position) whose
 * intervention begins at block `first` recomputes only blocks first..L-1 (below, the residual is the
 * clean run's); in blocks below the last, every position (later blocks attend to all of them); in the
 * last block only the P scored positions need a query, scores, mixing, the output projection and the
 * MLP, while keys and values are still needed at all T; logits only at the P positions. The clean run
 * (`cleanRows`: whole sequences of Tc tokens, scored at P, every position's z and hook_post kept for
 * the means) counts as rowMacs(Tc, P). Not counted as savings: work inside the first block that an
 * ablation leaves unchanged (one head changes its block's attention output by its own term only).
 */
export function minimalScanMacs(s: Spec, rows: readonly { T: number; P: number; first: number }[], cleanRows: readonly { T: number; P: number }[]): number {
	const { d_model: D, n_heads: H, n_kv_heads: K, d_head: dh, n_layers: L } = s;
	const mlp = s.attn_only ? 0 : (s.gated ? 3 : 2) * D * s.d_mlp;
	let macs = 0;
	for (const { T, P } of cleanRows) macs += rowMacs(s, T, P);
	for (const { T, P, first } of rows) {
		if (first >= L) continue;
		const below = (L - 1 - first) * T * blockMacs(s, T);
		const last = T * D * 2 * K * dh + P * (D * H * dh + H * dh * D + 2 * H * T * dh + mlp);
		macs += below + last + P * D * s.d_vocab;
	}
	return macs;
}

/** Bytes one row needs: its intervention inputs, one block's worth of activations (onnxruntime frees as it goes, kept x4 for slack) and its logits. */
export function rowBytes(s: Spec, r: RowShape): number {
	const { n_layers: L, n_heads: H, d_head: dh, d_model: D, d_mlp: M } = s;
	const { T, P } = r;
	let floats = T + P; // tokens, positions (int64 counted as two floats below)
	if (r.heads !== 'none') floats += L * H * T * dh + L * H * (r.heads === 'head_pos' ? T : 1);
	if (r.mlps !== 'none') floats += L * T * M + L * (r.mlps === 'neuron' ? M : 1);
	if (r.resid) floats += T * D;
	const activations = 4 * (8 * T * D + 3 * T * H * dh + 2 * H * T * T + 3 * T * M);
	return 4 * (floats + T + P + activations + 2 * P * s.d_vocab);
}

/**
 * Bytes of one base-run row of T tokens scored at P positions. Its hooks are outputs here, not inputs:
 * counted as one row's worth of z, hook_post and residual per block, whichever the run keeps.
 */
export function cachingRowBytes(s: Spec, T: number, P: number): number {
	const { n_layers: L, n_heads: H, d_head: dh, d_mlp: M, d_model: D } = s;
	return rowBytes(s, { T, P, heads: 'none', mlps: 'none', resid: false }) + 4 * T * L * (H * dh + M + D);
}

/**
 * Bytes a scan keeps per prompt of T tokens for as long as it runs: the clean base run's z, MLP
 * post-activations and residual of every block (ablation means, patching sources, restarts), plus
 * the record and its token ids. A prompt set is budgeted with it before it is drawn.
 */
export function keptPromptBytes(s: Spec, T: number): number {
	const { n_layers: L, n_heads: H, d_head: dh, d_model: D } = s;
	const M = s.attn_only ? 0 : s.d_mlp;
	return 4 * T * L * (H * dh + M + D) + 1024;
}

/**
 * Why n prompts of up to T tokens do not fit beside a model of `modelBytes`: their kept activations
 * (keptPromptBytes) plus the model above maxBytes. Null when they fit. The CLI (--n) and the page
 * share this, so both refuse the same sets in the same words; each adds its own remedy.
 */
export function promptSetOverBudget(s: Spec, modelBytes: number, n: number, T: number, maxBytes: number, during: string): string | null {
	const set = n * keptPromptBytes(s, T);
	if (set + modelBytes <= maxBytes) return null;
	return `${n} prompts of up to ${T} tokens would keep about ${gib(set)} of activations during the ${during} (plus ${gib(modelBytes)} for the model), above the limit of ${gib(maxBytes)}`;
}

/** Bytes of one row of T tokens returning every block's hook_pattern [H, T, T] (operand attention). */
export function patternRowBytes(s: Spec, T: number): number {
	const { n_layers: L, n_heads: H } = s;
	return rowBytes(s, { T, P: 1, heads: 'none', mlps: 'none', resid: false }) + 4 * L * H * T * T;
}

/** Weights a graph starting at block `start` holds. */
function graphParams(s: Spec, start: number): number {
	const { d_model: D, n_heads: H, n_kv_heads: K, d_head: dh, d_vocab: V } = s;
	const block = D * (H + 2 * K) * dh + H * dh * D + (s.attn_only ? 0 : (s.gated ? 3 : 2) * D * s.d_mlp) + 6 * D;
	return (s.n_layers - start) * block + V * D * (s.tied ? 1 : 2) + (start === 0 && s.pos === 'standard' ? s.n_ctx * D : 0);
}

export interface StartLayerCost {
	macsPerParam?: number;
	fixedMacs?: number;
}

/**
 * The blocks rows restart from (always including 0). `tokens[l]` = tokens of all rows whose
 * intervention begins at block l; each such row runs from the largest restart block <= l. Minimises
 * skipped-block compute plus the new graphs each restart block above 0 needs, by dynamic programming
 * over the sorted restart blocks (O(L²·K)). `byKind` splits `tokens` by graph variant (rows whose
 * intervention inputs differ, e.g. head rows and MLP rows, run through different graphs): a restart
 * block then costs one graph per variant that has rows restarting there, not one.
 */
export function chooseStartLayers(s: Spec, tokens: readonly number[], T: number, cost: StartLayerCost = {}, byKind?: readonly (readonly number[])[]): number[] {
	const L = s.n_layers;
	const perToken = blockMacs(s, T);
	const session = (start: number) => (cost.macsPerParam ?? SESSION_MACS_PER_PARAM) * graphParams(s, start) + (cost.fixedMacs ?? SESSION_FIXED_MACS);
	const kinds = byKind ?? [tokens];
	// best[i]: cost of the rows at blocks i..L-1 when block i is a restart block; next[i]: the following one.
	const best = new Array<number>(L + 1).fill(0);
	const next = new Array<number>(L + 1).fill(L);
	for (let i = L - 1; i >= 0; i--) {
		best[i] = Infinity;
		let rows = 0;
		const present = new Array<boolean>(kinds.length).fill(false);
		for (let j = i + 1; j <= L; j++) {
			rows += tokens[j - 1] ?? 0;
			kinds.forEach((k, x) => (present[x] ||= (k[j - 1] ?? 0) > 0));
			const graphs = Math.max(1, present.filter(Boolean).length);
			const c = rows * (L - i) * perToken + (i > 0 ? graphs * session(i) : 0) + best[j];
			if (c < best[i]) [best[i], next[i]] = [c, j];
		}
	}
	const starts: number[] = [];
	for (let i = 0; i < L; i = next[i]) starts.push(i);
	return starts;
}
