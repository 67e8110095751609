// Runs a core scan (ablation, activation patching, path patching) on the loaded model and turns its
// result into the flat ScanResult the page draws. Base runs are shared between scans of the same
// engine and prompt set through one ScanContext.
import {
	ablationScan,
	encodePromptSet,
	pathPatchScan,
	patchScan,
	ScanContext,
	type AblationMethod,
	type Drops
} from '$lib/core/experiments';
import type { Engine } from '$lib/core/runtime';
import type { PromptRecord } from '$lib/core/tasks';
import type { ScanArgs, ScanProgress, ScanResult } from './protocol';
import { session } from './session';

let cached: { engine: Engine; key: string; ctx: ScanContext } | null = null;

/** One ScanContext per (engine, prompt set), so a second method reuses the clean and corrupted runs. */
export function scanContext(prompts: PromptRecord[]): ScanContext {
	const { model, engine } = session();
	const key = JSON.stringify(prompts);
	if (cached?.engine === engine && cached.key === key) return cached.ctx;
	const set = encodePromptSet(model.tokenizer, prompts, model.spec.pos === 'none' ? Infinity : model.spec.n_ctx);
	cached = { engine, key, ctx: new ScanContext(engine, set) };
	return cached.ctx;
}

const f32 = (t: { data: Float32Array } | undefined) => t?.data;

export async function runScanCall(args: ScanArgs, signal: AbortSignal, onProgress: (p: ScanProgress) => void): Promise<ScanResult> {
	const started = performance.now();
	const ctx = scanContext(args.prompts);
	const { n_layers: L, n_heads: H } = ctx.spec;
	const options = { signal, onProgress };
	const common = { layers: L, heads: H, n: ctx.set.prompts.length };
	const ms = () => performance.now() - started;

	if (args.method === 'patch' || args.method === 'path') {
		if (args.method === 'patch') {
			const r = await patchScan(ctx, options);
			return { ...common, method: 'patch', metric: 'logprob', score: r.heads.logprob!.data, mlp: f32(r.mlps?.logprob), positions: 0, clean: r.clean, ms: ms() };
		}
		const r = await pathPatchScan(ctx, options);
		return { ...common, method: 'path', metric: 'answer_logit', score: r.heads.data, positions: 0, clean: r.clean, ms: ms() };
	}

	const r = await ablationScan(ctx, { ...options, method: args.method as AblationMethod, seed: args.seed });
	const heads = r.heads as Drops;
	return {
		...common,
		method: args.method,
		metric: 'logprob',
		score: heads.metrics.logprob!.data,
		accuracyDrop: f32(heads.metrics.accuracy),
		logprobDrop: f32(heads.metrics.logprob),
		positionAccuracyDrop: heads.position_accuracy.data,
		positions: heads.position_accuracy.shape[2],
		mlp: f32(r.mlps?.metrics.logprob),
		mlpAccuracyDrop: f32(r.mlps?.metrics.accuracy),
		mlpLogprobDrop: f32(r.mlps?.metrics.logprob),
		clean: r.clean,
		ms: ms()
	};
}
