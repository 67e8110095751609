// A prompt set as token rows for scans (DESIGN §5): clean row = prompt ids + answer ids (teacher
// forcing); corrupted row = counterfactual prompt ids + the clean answer ids, so positions line up.
// Prompts are grouped by sequence length: each group batches without padding.
import type { ArithTokenizer } from '../model/index';
import type { PromptRecord } from '../tasks/promptFile';

export interface EncodedPrompt {
	/** Index in the record list. */
	index: number;
	/** Prompt ids with the tokenizer's special tokens. */
	prompt: number[];
	/** Answer ids, no special tokens. */
	answer: number[];
	/** Counterfactual prompt ids (same count as `prompt`) followed by nothing: the clean answer is appended at run time. */
	counterfactual?: number[];
	/** First token of the counterfactual's answer: the logit-diff target. */
	cfFirst?: number;
}

export interface LengthGroup {
	/** Sequence length (prompt + answer) shared by the members. */
	length: number;
	/** Prompt indices. */
	members: number[];
}

export interface PromptSet {
	prompts: EncodedPrompt[];
	/** Groups by sequence length, shortest first. */
	groups: LengthGroup[];
	/** Every prompt has a counterfactual (patching and path patching need one). */
	hasCounterfactuals: boolean;
	/** Every prompt has a counterfactual answer (logit diff needs its first token). */
	hasLogitDiff: boolean;
	/** Longest answer, in tokens. */
	maxAnswer: number;
}

export class PromptSetError extends Error {
	override name = 'PromptSetError';
}

/** Clean sequence of a prompt: prompt ids + answer ids. */
export const cleanRow = (p: EncodedPrompt): number[] => [...p.prompt, ...p.answer];
/** Corrupted sequence: counterfactual prompt ids + the clean answer ids. */
export const corruptRow = (p: EncodedPrompt): number[] => [...p.counterfactual!, ...p.answer];
export const sequenceLength = (p: EncodedPrompt): number => p.prompt.length + p.answer.length;
/** Positions whose logits predict the answer tokens: n_prompt - 1 … n_prompt + n_answer - 2. */
export const answerPositions = (p: EncodedPrompt): number[] => p.answer.map((_, i) => p.prompt.length - 1 + i);

/**
 * Encodes records with the model's tokenizer. A counterfactual whose prompt has another token count
 * than its clean prompt is refused (positions would not line up), naming the record.
 */
export function encodePromptSet(tokenizer: ArithTokenizer, records: readonly PromptRecord[], nCtx = Infinity): PromptSet {
	if (records.length === 0) throw new PromptSetError('no prompts');
	const prompts = records.map((r, index): EncodedPrompt => {
		const prompt = tokenizer.encode(r.prompt);
		const answer = tokenizer.encode(r.answer, { addSpecialTokens: false });
		const where = `prompt ${index + 1} (${JSON.stringify(r.prompt)})`;
		if (answer.length === 0) throw new PromptSetError(`${where}: the answer ${JSON.stringify(r.answer)} encodes to no tokens`);
		if (prompt.length === 0) throw new PromptSetError(`${where}: encodes to no tokens`);
		if (prompt.length + answer.length > nCtx)
			throw new PromptSetError(`${where}: ${prompt.length + answer.length} tokens with its answer, above the model's context of ${nCtx}`);
		const out: EncodedPrompt = { index, prompt, answer };
		if (r.counterfactual) {
			const cf = tokenizer.encode(r.counterfactual.prompt);
			if (cf.length !== prompt.length)
				throw new PromptSetError(`${where}: its counterfactual ${JSON.stringify(r.counterfactual.prompt)} has ${cf.length} tokens, not ${prompt.length}; positions must line up`);
			out.counterfactual = cf;
			if (r.counterfactual.answer) out.cfFirst = tokenizer.encode(r.counterfactual.answer, { addSpecialTokens: false })[0];
		}
		return out;
	});
	const byLength = new Map<number, number[]>();
	for (const p of prompts) {
		const L = sequenceLength(p);
		if (!byLength.has(L)) byLength.set(L, []);
		byLength.get(L)!.push(p.index);
	}
	const groups = [...byLength].sort((a, b) => a[0] - b[0]).map(([length, members]) => ({ length, members }));
	return {
		prompts,
		groups,
		hasCounterfactuals: prompts.every((p) => p.counterfactual),
		hasLogitDiff: prompts.every((p) => p.cfFirst !== undefined),
		maxAnswer: Math.max(...prompts.map((p) => p.answer.length))
	};
}
