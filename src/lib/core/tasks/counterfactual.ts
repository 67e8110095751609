// Counterfactual prompts for patching: the corrupted run must keep the clean prompt's length so that
// positions line up (the clean answer is appended to both). Two kinds:
// - operand: change one operand, same written digit count, so the answer changes — preferring the
//   same answer length and a different first answer token, which logit diff needs. Lengths and the
//   first token are the model's own tokenizer's (GPT-2 writes `816` in 2 tokens, `936` in 1); without
//   one, characters (models/train/tasks.py counterfactual, generalised to every task format);
// - operator-null (Zhang et al. 2024): the operator replaced by spaces of the same length, so the
//   prompt asks no question and heads that read the operator lose their input.

import { tokenizeScored, type ScoredTokens } from '../model/scoredTokens';
import type { ArithTokenizer } from '../model/tokenizer';
import type { Rng } from './rng';
import { OPS, makeExample, operandRange, renderPrompt, type Example, type Task } from './task';

type Encoder = Pick<ArithTokenizer, 'encode' | 'tokenStrings'>;

export interface CounterfactualOptions {
	/** Candidates drawn before settling for the best one seen (tasks.py uses 200). */
	tries?: number;
	/**
	 * The model's tokenizer: the counterfactual keeps the prompt's token count and changes the first
	 * answer token under it (answers tokenized jointly with their prompt, DESIGN §5). Without one,
	 * characters stand for tokens, as for the shipped character-level models.
	 */
	tokenizer?: Encoder;
	/** Text in front of every prompt (few-shot examples); the counterfactual keeps it. */
	prefix?: string;
}

/**
 * The example as the model should be scored on it under `tokenizer`, with its joint tokens: an answer
 * prefix (the space of ` 46`) that the tokenizer writes as a token of its own (Llama, Qwen: `▁`/`Ġ`
 * then the digits) moves to the end of the prompt, so the first scored token is a digit and logit diff
 * compares digits; where the tokenizer merges it into the number (GPT-2's `Ġ46`) it stays in the
 * answer. The text the model reads is the same either way. Null when neither split is a prefix split.
 */
function scoredSplit<E extends { prompt: string; answer: string }>(ex: E, task: Task, tokenizer: Encoder, prefix = ''): { example: E; tokens: ScoredTokens } | null {
	const p = task.answerPrefix;
	const tries = p && ex.answer.startsWith(p) ? [{ ...ex, prompt: ex.prompt + p, answer: ex.answer.slice(p.length) }, ex] : [ex];
	for (const example of tries) {
		try {
			return { example, tokens: tokenizeScored(tokenizer, prefix + example.prompt, example.answer) };
		} catch {
			// not a prefix split: try the next, or give up
		}
	}
	return null;
}

/** scoredSplit's example, or `ex` itself without a tokenizer or when no split works (encodePromptSet then names the problem). */
export const placeAnswerPrefix = <E extends { prompt: string; answer: string }>(ex: E, task: Task, tokenizer: Encoder | undefined, prefix = ''): E =>
	(tokenizer && scoredSplit(ex, task, tokenizer, prefix)?.example) || ex;

/** What a counterfactual is compared on: prompt length, answer length and first answer unit. */
interface Shape {
	promptLength: number;
	answerLength: number;
	first: string | number;
}

function shapeOf(task: Task, ex: Example, options: CounterfactualOptions): Shape | null {
	const tk = options.tokenizer;
	if (!tk) return { promptLength: (options.prefix ?? '').length + ex.prompt.length, answerLength: ex.body.length, first: ex.body[0] };
	const split = scoredSplit(ex, task, tk, options.prefix);
	if (!split) return null; // no position would predict this answer alone
	const { prompt, answer } = split.tokens;
	return { promptLength: prompt.length, answerLength: answer.length, first: answer[0] };
}

/** Values with the same written width as v: any value if operands are zero-padded, else the same digit count. */
function sameWidthRange(task: Task, which: 0 | 1, v: number): [number, number] {
	const [lo, hi] = operandRange(task, which);
	if (task.padOperands) return [lo, hi];
	const n = String(v).length;
	return [Math.max(lo, n > 1 ? 10 ** (n - 1) : 0), Math.min(hi, 10 ** n - 1)];
}

/**
 * A counterfactual of the same prompt length whose answer differs; preferably of the same answer
 * length with another first answer unit. With a tokenizer the first answer token must differ (logit
 * diff compares them); null when none is found in `tries` draws.
 */
export function operandCounterfactual(task: Task, a: number, b: number, rng: Rng, options: CounterfactualOptions = {}): Example | null {
	const { tries = 200 } = options;
	const clean = makeExample(task, a, b);
	const want = shapeOf(task, clean, options);
	if (!want) return null;
	let fallback: Example | null = null;
	// A tokenizer makes each candidate ~100x dearer: once a fallback is in hand, look a little further
	// only (for a 4-digit sum of 3-digit operands no other first token of the same length exists).
	let budget = tries;
	for (let i = 0; i < budget; i++) {
		const which = rng.float() < 0.5 ? 1 : 0;
		const [lo, hi] = sameWidthRange(task, which, which === 1 ? b : a);
		if (lo > hi) continue;
		const v = rng.int(lo, hi);
		const cf = makeExample(task, which === 0 ? v : a, which === 1 ? v : b);
		// a negative difference would leave the task's answer distribution
		if (cf.value < 0 && clean.value >= 0) continue;
		if (cf.body === clean.body) continue;
		const got = shapeOf(task, cf, options);
		if (!got || got.promptLength !== want.promptLength) continue;
		if (options.tokenizer && got.first === want.first) continue;
		if (got.answerLength === want.answerLength && got.first !== want.first) return cf;
		if (!fallback && options.tokenizer) budget = Math.min(tries, i + 1 + Math.ceil(tries / 10));
		fallback ??= cf;
	}
	return fallback;
}
/** The prompt with its operator (symbol and word) replaced by as many spaces; it has no answer. */
export function operatorNullCounterfactual(task: Task, a: number, b: number): { prompt: string } {
	if (!task.template.includes('{op}') && !task.template.includes('{op_word}')) {
		throw new Error(`operator-null counterfactual: template '${task.template}' has no {op} or {op_word} to blank out`);
	}
	const { symbol, word } = OPS[task.op];
	return { prompt: renderPrompt(task, a, b, ' '.repeat(symbol.length), ' '.repeat(word.length)) };
}
