// The worker's measurements, all through core experiments on one ScanContext per (engine, prompt
// set), so evaluation, scans, attention summaries and faithfulness share the clean and corrupted
// runs: accuracy (with per-digit / per-subtask rates for multiplication), scans ranked by core's
// runMethod (as the CLI ranks them), attention from answer positions to operands, circuit faithfulness.
import {
	counterfactualNeed,
	counterfactualSubset,
	DigitTokensError,
	encodePromptSet,
	evaluatePrompts,
	faithfulness,
	mulDigits,
	mulSubtasks,
	operandAttention,
	runMethod,
	ScanContext,
	type AblationResult,
	type FaithfulnessResult,
	type MulSubtaskReport
} from '$lib/core/experiments';
import type { Engine } from '$lib/core/runtime';
import type { PromptRecord } from '$lib/core/tasks';
import type { Accuracy, AttentionResult, FaithfulnessArgs, ScanArgs, ScanProgress, ScanResult } from './protocol';
import { session } from './session';

let cached: { engine: Engine; key: string; ctx: ScanContext } | null = null;

/** One ScanContext per (engine, prompt set), so a second measurement reuses the base runs. */
export function scanContext(prompts: PromptRecord[]): ScanContext {
	const { model, engine } = session();
	const key = JSON.stringify(prompts);
	if (cached?.engine === engine && cached.key === key) return cached.ctx;
	const set = encodePromptSet(model.tokenizer, prompts, model.spec.pos === 'none' ? Infinity : model.spec.n_ctx);
	cached = { engine, key, ctx: new ScanContext(engine, set) };
	return cached.ctx;
}

type Progress = (p: ScanProgress) => void;

/**
 * Subtask rates of a multiplication prompt set (and head effects given an ablation); nothing for other
 * tasks, and the reason when the tokenizer merges answer digits so no position predicts one digit.
 */
async function mulReport(ctx: ScanContext, prompts: PromptRecord[], ablation?: AblationResult): Promise<{ mul?: MulSubtaskReport; mulUnavailable?: string }> {
	if (!prompts.some((r) => (r.meta as { op?: string } | undefined)?.op === 'mul' || /[*×]|times/.test(r.prompt))) return {};
	let digits;
	try {
		digits = mulDigits(ctx.set, prompts, session().model.tokenizer);
	} catch (e) {
		if (e instanceof DigitTokensError) return { mulUnavailable: e.message };
		if (e instanceof RangeError) return {}; // no answer is the product written as digits
		throw e;
	}
	const clean = ablation?.base ?? (await ctx.base('clean', {})).scores;
	return { mul: mulSubtasks(digits, clean, ablation, 3) };
}

export async function evaluate(prompts: PromptRecord[], signal: AbortSignal, onProgress: Progress): Promise<Accuracy> {
	const ctx = scanContext(prompts);
	const ev = await evaluatePrompts(ctx, prompts, { signal, onProgress });
	return { n: ev.n, accuracy: ev.accuracy, logprob: ev.logprob, perPosition: ev.per_position_accuracy, ...(await mulReport(ctx, prompts)) };
}

/**
 * Patching needs a counterfactual: the context of the prompts that have a usable one (the others are
 * left out and counted, as in the CLI); an error when none has.
 */
export function counterfactualContext(prompts: PromptRecord[], method: string): { ctx: ScanContext; leftOut?: { n: number; reason: string } } {
	const all = scanContext(prompts);
	const { kept, leftOut, reason } = counterfactualSubset(all.set, 'prompt');
	if (leftOut === 0) return { ctx: all };
	if (kept.length === 0) throw new Error(`${method} needs a counterfactual for its prompts, and none has a usable one: ${reason}`);
	return { ctx: scanContext(kept.map((i) => prompts[i])), leftOut: { n: leftOut, reason: reason! } };
}

export async function scan(args: ScanArgs, signal: AbortSignal, onProgress: Progress): Promise<ScanResult> {
	const started = performance.now();
	const patching = counterfactualNeed(args.method, 'logprob') === 'prompt';
	const { ctx, leftOut } = patching ? counterfactualContext(args.prompts, `${args.method === 'patch' ? 'activation' : 'path'} patching`) : { ctx: scanContext(args.prompts), leftOut: undefined };
	const r = await runMethod(ctx, { method: args.method, seed: args.seed, signal, onProgress });
	const ablation = r.scan.method === 'patch' || r.scan.method === 'path' ? undefined : r.scan.result;
	return {
		method: r.method,
		metric: r.metric,
		layers: ctx.spec.n_layers,
		heads: ctx.spec.n_heads,
		entries: r.heads,
		mlps: r.mlps,
		clean: r.clean,
		n: r.n,
		leftOut,
		...(ablation ? await mulReport(ctx, args.prompts, ablation) : {}),
		ms: performance.now() - started
	};
}

export async function attention(prompts: PromptRecord[], signal: AbortSignal, onProgress: Progress): Promise<AttentionResult> {
	const ctx = scanContext(prompts);
	const r = await operandAttention(ctx, prompts, session().model.tokenizer, { signal, onProgress });
	const [L, H, A] = r.attention.shape;
	return { targets: r.targets, attention: r.attention.data, layers: L, heads: H, answers: A };
}

export function circuitFaithfulness(args: FaithfulnessArgs, signal: AbortSignal, onProgress: Progress): Promise<FaithfulnessResult> {
	return faithfulness(scanContext(args.prompts), { heads: args.heads, method: args.method, seed: args.seed, signal, onProgress });
}
