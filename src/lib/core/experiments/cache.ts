// The base runs a scan reuses: the clean (or corrupted) run of every prompt, once, with its metrics and
// the activations interventions draw on — every head's z, every MLP's hook_post, and the residual
// stream at the blocks scan rows restart from. Rows are whole sequences (prompt + answer), batched per
// sequence length within the memory budget.
import { hookName, type HookName } from '../model/hooks';
import { maxOf } from '../model/arrays';
import type { Spec } from '../model/spec';
import type { Engine } from '../runtime/engine';
import { forEachBatch, type BatchControl } from './batches';
import { cachingRowBytes } from './cost';
import { cleanRow, corruptRow, scoredSlots, type PromptSet } from './prompts';
import { runScored, ScoreTable, scoreRows } from './scores';

export type Base = 'clean' | 'corrupt';

export interface CacheNeeds {
	z?: boolean;
	post?: boolean;
	/** Blocks whose hook_resid_pre to keep (block 0 needs none: rows start from tokens). */
	residLayers?: readonly number[];
}

export interface BaseRun {
	base: Base;
	/** Metrics of the uninterrupted run, one component (C = 1) × N prompts. */
	scores: ScoreTable;
	/** Per prompt: z of every head in the intervention layout [L, H, T, dh] (T = the prompt's sequence length). */
	z?: Float32Array[];
	/** Per prompt: hook_post of every MLP, [L, T, M]. */
	post?: Float32Array[];
	/** Block -> per prompt hook_resid_pre [T, D]. */
	resid: Map<number, Float32Array[]>;
}

export interface RunControl extends BatchControl {
	/**
	 * Score in the graph (default true): the engine returns log-normaliser, argmax and target logits
	 * per scored position instead of the [rows, positions, vocab] logits, which JavaScript would score.
	 */
	score?: boolean;
	/** Called after every forward. */
	onForward?: (rows: number, tokens: number, positions: number, startLayer: number) => void;
}

/** Whether `run` already holds what `needs` asks for (an attention-only model has no hook_post to hold). */
export function covers(run: BaseRun | undefined, needs: CacheNeeds, attnOnly = false): boolean {
	if (!run) return false;
	return (!needs.z || !!run.z) && (!needs.post || attnOnly || !!run.post) && (needs.residLayers ?? []).every((l) => l === 0 || run.resid.has(l));
}

/** Runs the base sequences of every prompt once, keeping the activations `needs` names. */
export async function baseRun(engine: Engine, set: PromptSet, base: Base, needs: CacheNeeds, control: RunControl = {}): Promise<BaseRun> {
	const s: Spec = engine.spec;
	const { n_layers: L, n_heads: H, d_head: dh, d_mlp: M, d_model: D } = s;
	if (base === 'corrupt' && !set.hasCounterfactuals) throw new Error('the corrupted run needs a counterfactual for every prompt');
	const N = set.prompts.length;
	const residLayers = [...new Set(needs.residLayers ?? [])].filter((l) => l > 0).sort((a, b) => a - b);
	const hooks: HookName[] = [];
	for (let l = 0; l < L; l++) {
		if (residLayers.includes(l)) hooks.push(hookName('hook_resid_pre', l));
		if (needs.z) hooks.push(hookName('attn.hook_z', l));
		if (needs.post && !s.attn_only) hooks.push(hookName('mlp.hook_post', l));
	}
	const run: BaseRun = {
		base,
		scores: new ScoreTable(1, N, set.maxAnswer),
		z: needs.z ? new Array(N) : undefined,
		post: needs.post && !s.attn_only ? new Array(N) : undefined,
		resid: new Map(residLayers.map((l) => [l, new Array<Float32Array>(N)]))
	};
	for (const group of set.groups) {
		const T = group.length;
		await forEachBatch(group.members, cachingRowBytes(s, T, set.maxAnswer), control, async (members) => {
			const prompts = members.map((i) => set.prompts[i]);
			const tokens = prompts.map(base === 'clean' ? cleanRow : corruptRow);
			const P = maxOf(prompts.map((p) => p.answer.length));
			const positions = prompts.map((p) => scoredSlots(p, P));
			const { scored, cache } = await runScored(engine, tokens, { hooks, positions }, prompts, control.score ?? true);
			control.onForward?.(members.length, members.length * T, P, 0);
			scoreRows(run.scores, scored, prompts, members.map(() => 0), members);
			members.forEach((n, b) => {
				for (const l of residLayers) {
					const r = cache.get(hookName('hook_resid_pre', l))!.data;
					run.resid.get(l)![n] = r.slice(b * T * D, (b + 1) * T * D);
				}
				if (run.z) {
					const z = new Float32Array(L * H * T * dh);
					for (let l = 0; l < L; l++) {
						const src = cache.get(hookName('attn.hook_z', l))!.data; // [B, T, H, dh]
						for (let h = 0; h < H; h++)
							for (let t = 0; t < T; t++) {
								const from = ((b * T + t) * H + h) * dh;
								z.set(src.subarray(from, from + dh), ((l * H + h) * T + t) * dh);
							}
					}
					run.z[n] = z;
				}
				if (run.post) {
					const post = new Float32Array(L * T * M);
					for (let l = 0; l < L; l++) post.set(cache.get(hookName('mlp.hook_post', l))!.data.subarray(b * T * M, (b + 1) * T * M), l * T * M);
					run.post[n] = post;
				}
			});
		});
	}
	return run;
}
