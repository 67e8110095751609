// Packing one batch of scan rows into engine inputs (DESIGN §4): the tokens of each row (clean or
// corrupted, cut to the group's T), the positions it gathers, the residual it restarts from, and its
// intervention tensors — head mask [B,L,H] or [B,L,H,T] with replacement z [B,L,H,T,dh], MLP mask [B,L]
// with replacement hook_post [B,L,T,M] — filled from the sources of the scan's recipe.
import type { Spec } from '../model/spec';
import type { Interventions, RunOptions } from '../runtime/engine';
import type { Base, BaseRun } from './cache';
import { cleanRow, corruptRow, scoredSlots, type PromptSet } from './prompts';
import type { Source } from './replacements';
import type { BatchShape, ScanRow } from './scanPlan';

/** Where intervened activations come from, per prompt n. */
export interface Sources {
	/** An intervened head's replacement z ([L, H, T, dh]); null = zero. */
	heads?: (n: number) => Source | null;
	/** An intervened MLP's replacement hook_post ([L, T, M]); null = zero. */
	mlps?: (n: number) => Source | null;
	/** Path patching: every head not intervened on is frozen at this z (the clean run's). */
	freeze?: (n: number) => Source;
}

/** What one component's rows intervene on: heads (at every position, or at one) and MLP layers. */
export interface RowTargets {
	heads: readonly { layer: number; head: number; position?: number }[];
	mlps: readonly number[];
	/** Single MLP neurons (rows of an [L,M] mask). */
	neurons?: readonly { layer: number; neuron: number }[];
}

/** Copies positions [0, T) of (outer index o) from src [outer, src.T, inner] to dst at `to`. */
function copyPositions(dst: Float32Array, to: number, src: Source, o: number, T: number, inner: number, only?: number): void {
	if (only !== undefined) {
		dst.set(src.data.subarray((o * src.T + only) * inner, (o * src.T + only + 1) * inner), to + only * inner);
		return;
	}
	dst.set(src.data.subarray(o * src.T * inner, (o * src.T + T) * inner), to);
}

/** Tokens and engine options for one batch of rows of `shape`; row r intervenes on targets[r.c]. */
export function batchInputs(
	s: Spec,
	set: PromptSet,
	base: BaseRun,
	rows: readonly ScanRow[],
	targets: readonly RowTargets[],
	tokensOf: Base,
	sources: Sources,
	shape: BatchShape
): { tokens: number[][]; options: RunOptions } {
	const { n_layers: L, n_heads: H, d_head: dh, d_mlp: M, d_model: D } = s;
	const { start, T, P } = shape;
	const B = rows.length;
	const prompts = rows.map((r) => set.prompts[r.n]);
	const tokens = prompts.map((p) => (tokensOf === 'clean' ? cleanRow(p) : corruptRow(p)).slice(0, T));
	const options: RunOptions = {};
	if (shape.gather) options.positions = prompts.map((p) => scoredSlots(p, P));
	if (start > 0) {
		const resid = new Float32Array(B * T * D);
		rows.forEach((r, b) => resid.set(base.resid.get(start)![r.n].subarray(0, T * D), b * T * D));
		options.start = { layer: start, resid: { data: resid, shape: [B, T, D] } };
	}
	const iv: Interventions = {};
	if (shape.heads !== 'none') {
		const perPos = shape.heads === 'head_pos' ? T : 1;
		const mask = new Float32Array(B * L * H * perPos).fill(1);
		const repl = new Float32Array(B * L * H * T * dh);
		const block = T * dh;
		rows.forEach(({ c, n }, b) => {
			if (sources.freeze) {
				// every head from the restart block up takes its frozen z; the component's own then overrides it
				const frozen = sources.freeze(n);
				for (let l = start; l < L; l++)
					for (let h = 0; h < H; h++) {
						const at = (b * L + l) * H + h;
						mask.fill(0, at * perPos, (at + 1) * perPos);
						copyPositions(repl, at * block, frozen, l * H + h, T, dh);
					}
			}
			const src = sources.heads?.(n) ?? null;
			for (const { layer, head, position } of targets[c].heads) {
				const at = (b * L + layer) * H + head;
				if (position === undefined) mask.fill(0, at * perPos, (at + 1) * perPos);
				else mask[at * perPos + position] = 0;
				if (src) copyPositions(repl, at * block, src, layer * H + head, T, dh, position);
				else if (sources.freeze) repl.fill(0, at * block, (at + 1) * block);
			}
		});
		iv.head_mask = { data: mask, shape: shape.heads === 'head_pos' ? [B, L, H, T] : [B, L, H] };
		iv.head_repl = { data: repl, shape: [B, L, H, T, dh] };
	}
	if (shape.mlps !== 'none') {
		const perLayer = shape.mlps === 'neuron' ? M : 1;
		const mask = new Float32Array(B * L * perLayer).fill(1);
		const repl = new Float32Array(B * L * T * M);
		rows.forEach(({ c, n }, b) => {
			const src = sources.mlps?.(n) ?? null;
			const { mlps, neurons = [] } = targets[c];
			for (const l of mlps) mask.fill(0, (b * L + l) * perLayer, (b * L + l + 1) * perLayer);
			for (const { layer, neuron } of neurons) mask[(b * L + layer) * perLayer + neuron] = 0;
			// the replacement of a whole block: the mask keeps every neuron it does not zero
			if (src) for (const l of new Set([...mlps, ...neurons.map((x) => x.layer)])) copyPositions(repl, (b * L + l) * T * M, src, l, T, M);
		});
		iv.mlp_mask = { data: mask, shape: shape.mlps === 'neuron' ? [B, L, M] : [B, L] };
		iv.mlp_repl = { data: repl, shape: [B, L, T, M] };
	}
	options.interventions = iv;
	return { tokens, options };
}
