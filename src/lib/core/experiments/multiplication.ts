// Multiplication subtasks (DESIGN §8) seen through a model: for a × b prompts, accuracy and loss
// (−log p) per answer digit and per subtask class (BM, CM, Carry, UC, US10), and — given an ablation
// scan on the same prompts — each head's effect per digit and per class, with the heads whose
// ablation hurts each digit most. Digit i is the 10^i place, whatever order the answer is written in.
import { answerTokenTexts, type ArithTokenizer } from '../model/index';
import { maxOf } from '../model/arrays';
import type { Tensor } from '../model/tensor';
import type { PromptRecord } from '../tasks/promptFile';
import { SUBTASK_CLASSES, columnSubtasks, digitAtAnswerPosition, productOperands, type SubtaskClass } from '../tasks/subtasks';
import type { AblationResult } from './ablation';
import type { PromptSet } from './prompts';
import type { ScoreTable } from './scores';

/** One scored answer digit of one prompt. */
interface DigitSlot {
	n: number;
	/** Answer token index (the scored slot). */
	slot: number;
	digit: number;
	class: SubtaskClass;
}

export interface MulDigits {
	reversed: boolean;
	/** Answer digits (the padded width when padded). */
	width: number;
	/** Prompts read as a × b. */
	prompts: number[];
	slots: DigitSlot[];
}

export interface Rate {
	n: number;
	accuracy: number;
	/** Mean −log p of the answer digit. */
	loss: number;
}

export interface HeadDigitEffect {
	layer: number;
	head: number;
	accuracy_drop: number;
	loss_increase: number;
}

export interface MulSubtaskReport {
	reversed: boolean;
	width: number;
	n: number;
	digits: (Rate & { digit: number })[];
	classes: (Rate & { class: SubtaskClass })[];
	heads?: {
		/** [L, H, width]: clean minus ablated accuracy of each digit. */
		digit_accuracy_drop: Tensor;
		/** [L, H, width]: ablated minus clean loss of each digit. */
		digit_loss_increase: Tensor;
		/** [L, H, 5] in SUBTASK_CLASSES order (NaN for a class no prompt has). */
		class_accuracy_drop: Tensor;
		/** Per digit, the heads whose ablation drops its accuracy most (ties: larger loss increase). */
		top: { digit: number; heads: HeadDigitEffect[] }[];
	};
}

/** Digit views need one token per answer digit; a tokenizer that merges digits cannot give them. */
export class DigitTokensError extends RangeError {
	override name = 'DigitTokensError';
}

/**
 * Finds the digit tokens of every multiplication prompt's answer (tokens that write one digit, with or
 * without a space, in order; texts as the model reads them, answerTokenTexts) and which 10^i place each
 * writes. `reversed` (least-significant digit first) is inferred from the answers when not given: the
 * written digits must equal a × b zero-padded, forwards or reversed. Throws a DigitTokensError when an
 * answer token holds several digits (GPT-2 writes ` 1080` as one token): no position predicts one digit.
 */
export function mulDigits(set: PromptSet, records: readonly PromptRecord[], tokenizer: ArithTokenizer, reversed?: boolean): MulDigits {
	const parsed = records.map((r, n) => {
		const ab = productOperands(r);
		if (!ab) return null;
		const strings = answerTokenTexts(tokenizer, set.prompts[n]).map((t) => t.trim());
		const merged = strings.find((t) => /\d\d/.test(t));
		if (merged !== undefined)
			throw new DigitTokensError(
				`multiplication subtasks need one token per answer digit, but this tokenizer writes the answer ${JSON.stringify(r.answer)} of ${JSON.stringify(r.prompt)} as the tokens ${JSON.stringify(strings)}`
			);
		const slots = strings.flatMap((t, slot) => (/^\d$/.test(t) ? [slot] : []));
		const written = slots.map((slot) => strings[slot]).join('');
		const product = String(ab[0] * ab[1]).padStart(slots.length, '0');
		const forwards = written === product;
		const backwards = written === [...product].reverse().join('');
		return forwards || backwards ? { n, ab, slots, forwards, backwards } : null;
	});
	const found = parsed.filter((p) => p !== null);
	if (found.length === 0) throw new RangeError('multiplication subtasks: no prompt is a × b with the product as its answer digits');
	const rev = reversed ?? (found.some((p) => p.backwards && !p.forwards) && !found.some((p) => p.forwards && !p.backwards));
	const used = found.filter((p) => (rev ? p.backwards : p.forwards));
	const width = maxOf(used.map((p) => p.slots.length));
	const slots: DigitSlot[] = used.flatMap((p) => {
		const classes = columnSubtasks(p.ab[0], p.ab[1], p.slots.length);
		return p.slots.map((slot, k) => {
			const digit = digitAtAnswerPosition(k, p.slots.length, rev);
			return { n: p.n, slot, digit, class: classes[digit].class };
		});
	});
	return { reversed: rev, width, prompts: used.map((p) => p.n), slots };
}

function rate(table: ScoreTable, c: number, slots: readonly DigitSlot[]): Rate {
	let [acc, loss] = [0, 0];
	for (const s of slots) {
		const at = (c * table.N + s.n) * table.P + s.slot;
		acc += table.positionCorrect[at];
		loss -= table.positionLogprob[at];
	}
	return { n: slots.length, accuracy: acc / slots.length, loss: loss / slots.length };
}

/** Accuracy and loss per digit and class on the clean run; head effects when an ablation scan is given. */
export function mulSubtasks(digits: MulDigits, clean: ScoreTable, ablation?: AblationResult, top = 5): MulSubtaskReport {
	const byDigit = Array.from({ length: digits.width }, (_, d) => digits.slots.filter((s) => s.digit === d));
	const byClass = SUBTASK_CLASSES.map((k) => digits.slots.filter((s) => s.class === k));
	const report: MulSubtaskReport = {
		reversed: digits.reversed,
		width: digits.width,
		n: digits.prompts.length,
		digits: byDigit.map((slots, digit) => ({ digit, ...rate(clean, 0, slots) })),
		classes: SUBTASK_CLASSES.map((k, i) => ({ class: k, ...rate(clean, 0, byClass[i]) })).filter((r) => r.n > 0)
	};
	if (!ablation?.heads) return report;
	const heads = ablation.components.flatMap((c, i) => (c.kind === 'head' ? [{ i, layer: c.layer, head: c.head }] : []));
	const [L, H] = ablation.heads.metrics.logprob!.shape;
	const D = digits.width;
	const accDrop = new Float32Array(L * H * D);
	const lossUp = new Float32Array(L * H * D);
	const classDrop = new Float32Array(L * H * SUBTASK_CLASSES.length);
	const cleanDigit = byDigit.map((slots) => rate(clean, 0, slots));
	const cleanClass = byClass.map((slots) => (slots.length ? rate(clean, 0, slots) : null));
	for (const { i, layer, head } of heads) {
		const at = layer * H + head;
		byDigit.forEach((slots, d) => {
			const r = rate(ablation.table, i, slots);
			accDrop[at * D + d] = cleanDigit[d].accuracy - r.accuracy;
			lossUp[at * D + d] = r.loss - cleanDigit[d].loss;
		});
		byClass.forEach((slots, k) => (classDrop[at * SUBTASK_CLASSES.length + k] = cleanClass[k] ? cleanClass[k]!.accuracy - rate(ablation.table, i, slots).accuracy : NaN));
	}
	report.heads = {
		digit_accuracy_drop: { data: accDrop, shape: [L, H, D] },
		digit_loss_increase: { data: lossUp, shape: [L, H, D] },
		class_accuracy_drop: { data: classDrop, shape: [L, H, SUBTASK_CLASSES.length] },
		top: Array.from({ length: D }, (_, digit) => ({
			digit,
			heads: heads
				.map(({ layer, head }) => ({ layer, head, accuracy_drop: accDrop[(layer * H + head) * D + digit], loss_increase: lossUp[(layer * H + head) * D + digit] }))
				.sort((a, b) => b.accuracy_drop - a.accuracy_drop || b.loss_increase - a.loss_increase)
				.slice(0, top)
		}))
	};
	return report;
}
