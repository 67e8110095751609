// Clean evaluation of a prompt set (DESIGN §5): exact match under teacher forcing (= greedy), summed
// answer logprob, accuracy per answer position, and the per-prompt values — from the scan context's
// clean run, so a scan on the same context reuses it.
import { positionAccuracy } from './metrics';
import { positionRows } from './ablation';
import type { ScanContext, ScanOptions } from './scan';
import type { PromptRecord } from '../tasks/promptFile';
import { answerTokenTexts, type ArithTokenizer } from '../model/index';

export interface Evaluation {
	accuracy: number;
	n: number;
	logprob: number;
	per_position_accuracy: number[];
	/** Per prompt; `answer_tokens` (given a tokenizer) are the texts of the tokens scored, as the model reads them. */
	prompts: { prompt: string; answer: string; answer_tokens?: string[]; correct: boolean; logprob: number }[];
}

/** With `tokenizer`, each prompt also lists its answer tokens' texts (answerTokenTexts). */
export async function evaluatePrompts(ctx: ScanContext, records: readonly PromptRecord[], options: ScanOptions & { tokenizer?: ArithTokenizer } = {}): Promise<Evaluation> {
	if (records.length !== ctx.set.prompts.length) throw new RangeError(`evaluatePrompts: ${records.length} records for a set of ${ctx.set.prompts.length}`);
	const scores = (await ctx.base('clean', {}, options)).scores;
	return {
		accuracy: scores.mean('accuracy'),
		n: scores.N,
		logprob: scores.mean('logprob'),
		per_position_accuracy: positionAccuracy({ ...positionRows(scores), logprob: [], accuracy: [], answer_logit: [] }),
		prompts: records.map((r, n) => ({
			prompt: r.prompt,
			answer: r.answer,
			...(options.tokenizer ? { answer_tokens: answerTokenTexts(options.tokenizer, ctx.set.prompts[n]) } : {}),
			correct: scores.get('accuracy', 0, n) === 1,
			logprob: scores.get('logprob', 0, n)
		}))
	};
}

/** The records the model answers correctly (every answer token the argmax), in order: the option of
 * scanning only prompts the model can do, so ablation effects are not diluted by its failures. */
export async function correctRecords(ctx: ScanContext, records: readonly PromptRecord[], options: ScanOptions = {}): Promise<PromptRecord[]> {
	const { prompts } = await evaluatePrompts(ctx, records, options);
	return records.filter((_, n) => prompts[n].correct);
}
