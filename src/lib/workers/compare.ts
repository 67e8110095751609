// The worker's compare view: a second model (a fine-tuned folder, a training checkpoint) held beside
// the loaded one, scanned with the same method on the same prompts, with its accuracy and the
// faithfulness of its own top heads; the loaded model's faithfulness comes with it, so the page shows
// both side by side. The difference map is core's scanDifference on the page (the CLI's function).
import { counterfactualNeed, counterfactualSubset, encodePromptSet, evaluatePrompts, faithfulness, runMethod, ScanContext, topHeads } from '$lib/core/experiments';
import { CompareError } from '$lib/core/export/compare';
import { loadModel, type LoadedModel } from '$lib/core/model';
import type { Engine } from '$lib/core/runtime';
import type { PromptRecord } from '$lib/core/tasks';
import { scanContext } from './experiments';
import type { CompareArgs, CompareResult, ScanProgress } from './protocol';
import { buildEngine, session, sourceOf } from './session';

let held: { key: string; model: LoadedModel; engine: Engine } | null = null;

/** The second model, loaded once per source and rebuilt when the backend of the first one changed. */
async function second(args: CompareArgs): Promise<{ model: LoadedModel; engine: Engine }> {
	const key = `${JSON.stringify(args.source)}|${session().info.backend}`;
	if (held?.key === key) return held;
	await held?.engine.dispose();
	held = null;
	const model = await loadModel(sourceOf(args.source), { maxBytes: args.maxBytes });
	const { engine } = await buildEngine(model, session().info.backend);
	held = { key, model, engine };
	return held;
}

/** The prompts a method can use under this model's tokenizer: all of them, or a refusal (the comparison needs the same set). */
function contextFor(model: LoadedModel, engine: Engine, prompts: PromptRecord[], method: CompareArgs['method']): ScanContext {
	const set = encodePromptSet(model.tokenizer, prompts, model.spec.pos === 'none' ? Infinity : model.spec.n_ctx);
	const need = counterfactualNeed(method, 'logprob');
	if (need) {
		const { leftOut, reason } = counterfactualSubset(set, need);
		if (leftOut) throw new CompareError(`the second model cannot use ${leftOut} of the prompts' counterfactuals (first: ${reason}); compare models that tokenize alike`);
	}
	return new ScanContext(engine, set);
}

export async function compare(args: CompareArgs, signal: AbortSignal, onProgress: (p: ScanProgress) => void): Promise<CompareResult> {
	const started = performance.now();
	onProgress({ done: 0, total: 1, stage: 'loading the second model' });
	const b = await second(args);
	const a = session().model.spec;
	if (a.n_layers !== b.model.spec.n_layers || a.n_heads !== b.model.spec.n_heads)
		throw new CompareError(`the second model has ${b.model.spec.n_layers} layers of ${b.model.spec.n_heads} heads, the loaded one ${a.n_layers} of ${a.n_heads}: compare models of the same shape`);
	const ctx = contextFor(b.model, b.engine, args.prompts, args.method);
	const ranked = await runMethod(ctx, { method: args.method, seed: args.seed, signal, onProgress });
	const accuracy = await evaluatePrompts(ctx, args.prompts, { signal, onProgress });
	let faith: CompareResult['faithfulness'] = null;
	if (args.topK > 0) {
		const own = (heads: typeof ranked.heads) => topHeads(heads, { count: args.topK });
		const fa = await faithfulness(scanContext(args.prompts), { heads: own(args.first), method: 'mean', seed: args.seed, signal, onProgress });
		const fb = await faithfulness(ctx, { heads: own(ranked.heads), method: 'mean', seed: args.seed, signal, onProgress });
		faith = { a: fa, b: fb };
	}
	return {
		id: b.model.source.id,
		scan: { method: ranked.method, metric: ranked.metric, layers: ctx.spec.n_layers, heads: ctx.spec.n_heads, entries: ranked.heads, mlps: ranked.mlps, clean: ranked.clean, n: ranked.n, ms: performance.now() - started },
		accuracy: { n: accuracy.n, accuracy: accuracy.accuracy, logprob: accuracy.logprob, perPosition: accuracy.per_position_accuracy },
		faithfulness: faith
	};
}
