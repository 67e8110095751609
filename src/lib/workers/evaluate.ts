// Clean accuracy of the loaded model on a prompt set (DESIGN §5): teacher-forced rows of prompt +
// answer ids, right-padded per batch (causal, so padding after the scored positions changes
// nothing), logits gathered only at the positions that predict answer tokens.
import { gatheredPromptMetrics, meanMetrics, positionAccuracy, scoredPositions, type PromptMetrics } from '$lib/core/experiments/metrics';
import type { PromptRecord } from '$lib/core/tasks';
import type { Accuracy, ScanProgress } from './protocol';
import { session } from './session';

const BATCH = 64;

export async function evaluateAccuracy(prompts: PromptRecord[], signal: AbortSignal, progress: (p: ScanProgress) => void): Promise<Accuracy> {
	const { model, engine } = session();
	const tk = model.tokenizer;
	const pad = tk.padId ?? 0;
	const all: PromptMetrics = { logprob: [], accuracy: [], answer_logit: [], position_correct: [] };
	for (let start = 0; start < prompts.length; start += BATCH) {
		signal.throwIfAborted();
		const batch = prompts.slice(start, start + BATCH);
		const promptIds = batch.map((r) => tk.encode(r.prompt));
		const answers = batch.map((r) => tk.encode(r.answer, { addSpecialTokens: false }));
		const rows = promptIds.map((p, i) => [...p, ...answers[i]]);
		const T = Math.max(...rows.map((r) => r.length));
		const tokens = rows.map((r) => [...r, ...Array<number>(T - r.length).fill(pad)]);
		const nPrompt = promptIds.map((p) => p.length);
		const { logits } = await engine.run(tokens, { positions: scoredPositions({ nPrompt, answers }) });
		const m = gatheredPromptMetrics(logits, { answers });
		all.logprob.push(...m.logprob);
		all.accuracy.push(...m.accuracy);
		all.answer_logit.push(...m.answer_logit);
		all.position_correct.push(...m.position_correct);
		progress({ done: start + batch.length, total: prompts.length });
	}
	const mean = meanMetrics(all);
	return { n: prompts.length, accuracy: mean.accuracy, logprob: mean.logprob, perPosition: positionAccuracy(all) };
}
