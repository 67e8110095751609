// Arithmetic task formats: operators, operand ranges, templates, padding, answer order and <eos>,
// and the rendering of one (a, b) problem into the prompt/answer strings a model is scored on.
import { modularValue, type Modular } from './modular';

export type Op = 'add' | 'sub' | 'mul' | 'div' | 'mod';

interface OpInfo {
	symbol: string;
	word: string;
	apply: (a: number, b: number) => number;
	/** Digits of the widest answer for operands of da and db digits (the width `pad` pads to). */
	answerDigits: (da: number, db: number) => number;
	/** Operands above this digit count lose exactness in float64 (2^53 ≈ 9.0e15). */
	maxDigits: number;
	/** Smallest second operand (division and modulo by zero are undefined). */
	minB: number;
}

export const OPS: Readonly<Record<Op, OpInfo>> = Object.freeze({
	add: { symbol: '+', word: 'plus', apply: (a, b) => a + b, answerDigits: (x, y) => Math.max(x, y) + 1, maxDigits: 15, minB: 0 },
	sub: { symbol: '-', word: 'minus', apply: (a, b) => a - b, answerDigits: (x, y) => Math.max(x, y), maxDigits: 15, minB: 0 },
	mul: { symbol: '*', word: 'times', apply: (a, b) => a * b, answerDigits: (x, y) => x + y, maxDigits: 7, minB: 0 },
	div: { symbol: '/', word: 'divided by', apply: (a, b) => Math.floor(a / b), answerDigits: (x) => x, maxDigits: 15, minB: 1 },
	mod: { symbol: '%', word: 'modulo', apply: (a, b) => a % b, answerDigits: (_x, y) => y, maxDigits: 15, minB: 1 }
});

export const OP_NAMES = Object.keys(OPS) as Op[];

/** `12+34=`: the format of the shipped models. */
export const SYMBOLIC_TEMPLATE = '{a}{op}{b}=';
/** The phrasing of Stolfo et al. / Zhang et al. style prompts; its answer starts with a space. */
export const VERBAL_TEMPLATE = 'What is {a} {op_word} {b}? Answer:';
/**
 * Natural-language and spaced formats for pretrained LMs, by spec option name. Each answer starts with
 * a space, which byte-level BPE vocabularies (GPT-2, Llama-3, Qwen2) merge into the first number token.
 */
export const NAMED_TEMPLATES: Readonly<Record<string, string>> = Object.freeze({
	verbal: VERBAL_TEMPLATE,
	question: 'Question: What is {a} {op_word} {b}?\nAnswer:',
	sentence: '{a} {op_word} {b} equals',
	spaced: '{a} {op} {b} ='
});
/** Few-shot examples are joined by this unless a spec says otherwise. */
export const DEFAULT_SHOT_SEPARATOR = '\n';
export const TEMPLATE_PLACEHOLDERS = ['{a}', '{b}', '{op}', '{op_word}'] as const;
export const EOS = '<eos>';

export interface Task {
	op: Op;
	/** Digit counts of the operands [a, b]: operands lie in [0, 10^d - 1]. */
	digits: [number, number];
	/** Operands have exactly their digit count (from 10^(d-1); 1-digit operands still include 0). */
	exact: boolean;
	/** Write operands zero-padded to their digit count (so every prompt has the same length). */
	padOperands: boolean;
	/** Zero-pad the answer to this many digits; 0 leaves it unpadded. */
	answerWidth: number;
	/** Answer written least-significant digit first (Qiu et al.'s reversed multiplication). */
	reversed: boolean;
	/** Answer ends with the `<eos>` token. */
	eos: boolean;
	/** Prompt template with {a} {b} {op} (symbol) {op_word} (plus, minus, times, divided by, modulo). */
	template: string;
	/** Text before the answer digits, e.g. ' ' after a verbal prompt ending in `Answer:`. */
	answerPrefix: string;
	/** Solved examples of the same task in front of each prompt (few-shot prompting); 0 or absent = none. */
	shots?: number;
	/** Written after each solved example (default a newline). */
	separator?: string;
	/** Modular arithmetic (tasks/modular.ts): operands in [0, p), answer (a op b) mod p, a split and label corruption. */
	modulus?: Modular;
}

/** One rendered problem. `body` is the answer without prefix and <eos>: what counterfactuals compare. */
export interface Example {
	a: number;
	b: number;
	value: number;
	prompt: string;
	answer: string;
	body: string;
}

export const operandRange = (task: Task, which: 0 | 1): [number, number] => {
	if (task.modulus) return [0, task.modulus.p - 1];
	const d = task.digits[which];
	const lo = task.exact && d > 1 ? 10 ** (d - 1) : 0;
	return [which === 1 ? Math.max(lo, OPS[task.op].minB) : lo, 10 ** d - 1];
};

export const naturalAnswerWidth = (task: Task): number => OPS[task.op].answerDigits(task.digits[0], task.digits[1]);

/** Zero-pad to `width` digits, then reverse the digits if asked; a minus sign stays in front. */
function formatAnswerDigits(value: number, width: number, reversed: boolean): string {
	let digits = String(Math.abs(value)).padStart(width, '0');
	if (reversed) digits = [...digits].reverse().join('');
	return value < 0 ? `-${digits}` : digits;
}

export function renderPrompt(task: Task, a: number, b: number, opText = OPS[task.op].symbol, opWord = OPS[task.op].word): string {
	const operand = (v: number, d: number) => (task.padOperands ? String(v).padStart(d, '0') : String(v));
	const values: Record<string, string> = {
		'{a}': operand(a, task.digits[0]),
		'{b}': operand(b, task.digits[1]),
		'{op}': opText,
		'{op_word}': opWord
	};
	return task.template.replace(/\{a\}|\{b\}|\{op\}|\{op_word\}/g, (m) => values[m]);
}

export function makeExample(task: Task, a: number, b: number): Example {
	const info = OPS[task.op];
	if (b < info.minB) throw new RangeError(`${task.op}: second operand must be >= ${info.minB}, got ${b}`);
	const value = task.modulus ? modularValue(task.op, a, b, task.modulus.p) : info.apply(a, b);
	const body = formatAnswerDigits(value, task.answerWidth, task.reversed);
	return { a, b, value, prompt: renderPrompt(task, a, b), answer: task.answerPrefix + body + (task.eos ? EOS : ''), body };
}
