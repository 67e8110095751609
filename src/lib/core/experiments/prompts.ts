// A prompt set as token rows for scans (DESIGN §5): clean row = tokenizer(prompt + answer), split into
// prompt ids and answer ids (teacher forcing); corrupted row = counterfactual prompt ids + the clean
// answer ids, so positions line up.
// Prompts are grouped by sequence length: each group batches without padding.
import { TokenizeError, answerTokenTexts, tokenizeScored, type ArithTokenizer } from '../model/index';
import type { PromptRecord } from '../tasks/promptFile';
import { padSlots } from './metrics';

export interface EncodedPrompt {
	/** Index in the record list. */
	index: number;
	/** Prompt ids with the tokenizer's special tokens. */
	prompt: number[];
	/** Answer ids: the tail of tokenizer(prompt + answer) after the prompt ids. */
	answer: number[];
	/** Counterfactual prompt ids (same count as `prompt`) followed by nothing: the clean answer is appended at run time. */
	counterfactual?: number[];
	/** First answer token of the counterfactual's own prompt + answer: the logit-diff target. */
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
	/** Counterfactuals that could not be used, with the reason: their prompts have no `counterfactual`, or no `cfFirst` when only logit diff cannot use it. */
	counterfactualIssues: CounterfactualIssue[];
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
/** The positions a batch gathers from this prompt's row: its answer positions padded to P slots (padSlots). */
export const scoredSlots = (p: EncodedPrompt, P: number): number[] => padSlots(answerPositions(p), P);

/** Why a prompt's counterfactual cannot be used (it is then left out of the methods that need one). */
export interface CounterfactualIssue {
	index: number;
	reason: string;
}

/**
 * Encodes records with the model's tokenizer, jointly (DESIGN §5: answer ids are the tail of
 * tokenizer(prompt + answer)). A counterfactual whose prompt has another token count than its clean
 * prompt cannot line up with it: the prompt keeps no counterfactual and the reason is listed in
 * `counterfactualIssues`, so methods that need none still run on every prompt.
 */
export function encodePromptSet(tokenizer: ArithTokenizer, records: readonly PromptRecord[], nCtx = Infinity): PromptSet {
	if (records.length === 0) throw new PromptSetError('no prompts');
	const issues: CounterfactualIssue[] = [];
	const prompts = records.map((r, index): EncodedPrompt => {
		const where = `prompt ${index + 1} (${JSON.stringify(r.prompt)})`;
		const { prompt, answer } = tokenizeScored(tokenizer, r.prompt, r.answer);
		if (prompt.length === 0) throw new PromptSetError(`${where}: encodes to no tokens`);
		if (prompt.length + answer.length > nCtx)
			throw new PromptSetError(`${where}: ${prompt.length + answer.length} tokens with its answer, above the model's context of ${nCtx}`);
		const out: EncodedPrompt = { index, prompt, answer };
		if (r.counterfactual) {
			const cf = r.counterfactual;
			const cfPrompt = tokenizer.encode(cf.prompt);
			if (cfPrompt.length !== prompt.length) {
				issues.push({ index, reason: `${where}: its counterfactual ${JSON.stringify(cf.prompt)} has ${cfPrompt.length} tokens, not ${prompt.length}, so positions cannot line up` });
				return out;
			}
			if (cf.answer) {
				try {
					out.cfFirst = tokenizeScored(tokenizer, cf.prompt, cf.answer).answer[0];
				} catch (e) {
					if (!(e instanceof TokenizeError)) throw e;
					issues.push({ index, reason: `${where}: its counterfactual: ${e.message}` });
					return out;
				}
			}
			out.counterfactual = cfPrompt;
			if (out.cfFirst === answer[0] && answerTokenTexts(tokenizer, { prompt, answer: answer.slice(0, 1) })[0].trim() === '') {
				// A space both answers start with (SentencePiece's ▁ before digits): logit diff would be 0.
				// Patching can still use the counterfactual prompt; logit diff leaves the prompt out.
				delete out.cfFirst;
				issues.push({ index, reason: `${where}: its answer and its counterfactual's both start with the space token ${JSON.stringify(tokenizer.tokenStrings([answer[0]])[0])}, so logit diff cannot compare them (end the prompt with the space)` });
			}
		}
		return out;
	});
	return promptSetOf(prompts, issues);
}

/** A set of already encoded prompts (`index` = position in the list), grouped by sequence length. */
export function promptSetOf(prompts: EncodedPrompt[], counterfactualIssues: CounterfactualIssue[] = []): PromptSet {
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
		maxAnswer: prompts.reduce((m, p) => Math.max(m, p.answer.length), 0),
		counterfactualIssues
	};
}

/** What a method needs of every prompt: a counterfactual prompt (patching), or also its answer (logit diff). */
export type CounterfactualNeed = 'prompt' | 'answer';

export interface CounterfactualSubset {
	/** Indices (in the set and its records) of the prompts that have what is needed. */
	kept: number[];
	/** How many were left out, and the first reason (a missing counterfactual or one listed in counterfactualIssues). */
	leftOut: number;
	reason?: string;
}

/** The prompts a counterfactual method can use; the caller re-encodes `kept` records or refuses when none. */
export function counterfactualSubset(set: PromptSet, need: CounterfactualNeed): CounterfactualSubset {
	const has = (p: EncodedPrompt) => (need === 'answer' ? p.cfFirst !== undefined && p.counterfactual !== undefined : p.counterfactual !== undefined);
	const kept = set.prompts.filter(has).map((p) => p.index);
	const first = set.prompts.find((p) => !has(p));
	const reason = first && (set.counterfactualIssues.find((i) => i.index === first.index)?.reason ?? `prompt ${first.index + 1} has no counterfactual${need === 'answer' ? ' answer' : ''}`);
	return { kept, leftOut: set.prompts.length - kept.length, reason };
}
