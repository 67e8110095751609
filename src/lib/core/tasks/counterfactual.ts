// Counterfactual prompts for patching: the corrupted run must keep the clean prompt's length so that
// positions line up (the clean answer is appended to both). Two kinds:
// - operand: change one operand, same written digit count, so the answer changes — preferring the
//   same answer length and a different first answer character, which logit diff needs
//   (models/train/tasks.py counterfactual, generalised to every task format);
// - operator-null (Zhang et al. 2024): the operator replaced by spaces of the same length, so the
//   prompt asks no question and heads that read the operator lose their input.

import type { Rng } from './rng';
import { OPS, makeExample, operandRange, renderPrompt, type Example, type Task } from './task';

export interface CounterfactualOptions {
	/** Candidates drawn before settling for the best one seen (tasks.py uses 200). */
	tries?: number;
	/** The length to keep; default characters, which equals tokens for the character-level tokenizer. */
	length?: (text: string) => number;
}

/** Values with the same written width as v: any value if operands are zero-padded, else the same digit count. */
function sameWidthRange(task: Task, which: 0 | 1, v: number): [number, number] {
	const [lo, hi] = operandRange(task, which);
	if (task.padOperands) return [lo, hi];
	const n = String(v).length;
	return [Math.max(lo, n > 1 ? 10 ** (n - 1) : 0), Math.min(hi, 10 ** n - 1)];
}

export function operandCounterfactual(task: Task, a: number, b: number, rng: Rng, options: CounterfactualOptions = {}): Example | null {
	const { tries = 200, length = (t: string) => t.length } = options;
	const clean = makeExample(task, a, b);
	const promptLength = length(clean.prompt);
	let fallback: Example | null = null;
	for (let i = 0; i < tries; i++) {
		const which = rng.float() < 0.5 ? 1 : 0;
		const [lo, hi] = sameWidthRange(task, which, which === 1 ? b : a);
		if (lo > hi) continue;
		const v = rng.int(lo, hi);
		const cf = makeExample(task, which === 0 ? v : a, which === 1 ? v : b);
		// a negative difference would leave the task's answer distribution
		if (cf.value < 0 && clean.value >= 0) continue;
		if (length(cf.prompt) !== promptLength || cf.body === clean.body) continue;
		if (cf.body.length === clean.body.length && cf.body[0] !== clean.body[0]) return cf;
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
