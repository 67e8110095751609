// Seeded prompt sets: draw distinct (a, b) problems of a task, render them as prompt-file records
// with a counterfactual each (operand change or operator-null) and the problem in `meta`. With the
// model's tokenizer, counterfactuals keep the prompt's token count and change the first answer token;
// a problem that has no such counterfactual is kept without one (methods that need none still use it).
// Few-shot tasks put k solved problems (seeded, never the problem itself) in front of each prompt.

import { operandCounterfactual, operatorNullCounterfactual, placeAnswerPrefix, type CounterfactualOptions } from './counterfactual';
import type { PromptRecord } from './promptFile';
import { modularRecords } from './modular';
import { createRng } from './rng';
import { columnSubtasks } from './subtasks';
import { DEFAULT_SHOT_SEPARATOR, makeExample, naturalAnswerWidth, operandRange, type Task } from './task';
import type { Rng } from './rng';
import { formatTaskSpec } from './taskSpec';

export type CounterfactualKind = 'operand' | 'operator-null' | 'none';
const COUNTERFACTUAL_KINDS: readonly CounterfactualKind[] = ['operand', 'operator-null', 'none'];

export interface GenerateOptions extends CounterfactualOptions {
	n: number;
	seed: number;
	/** Default 'operand'. */
	counterfactual?: CounterfactualKind;
	/** Draw each (a, b) at most once (default true); fails when the task has fewer than n problems. */
	unique?: boolean;
}

/**
 * How many distinct (a, b) problems the task has: the product of the operand ranges, less the pairs
 * with a < b for subtraction (differences stay non-negative). A float: 15-digit operands give 1e30.
 */
export function distinctProblems(task: Task): number {
	if (task.modulus) {
		const { p, train, split } = task.modulus;
		const inTrain = Math.round(train * p * p); // as modularData splits, whatever the seed
		return split === 'all' ? p * p : split === 'train' ? inTrain : p * p - inTrain;
	}
	const [[loA, hiA], [loB, hiB]] = [operandRange(task, 0), operandRange(task, 1)];
	if (task.op !== 'sub') return (hiA - loA + 1) * (hiB - loB + 1);
	// Σ over b of #{a in [loA, hiA] : a >= b}: b <= loA counts every a, b in (loA, hiA] counts hiA - b + 1.
	const below = Math.max(0, Math.min(hiB, loA) - loB + 1) * (hiA - loA + 1);
	const [from, to] = [Math.max(loB, loA + 1), Math.min(hiB, hiA)];
	const within = to < from ? 0 : ((to - from + 1) * (hiA - from + 1 + (hiA - to + 1))) / 2;
	return below + within;
}

export function generatePrompts(task: Task, options: GenerateOptions): PromptRecord[] {
	const { n, seed, counterfactual = 'operand', unique = true, tokenizer } = options;
	if (!Number.isInteger(n) || n < 1) throw new RangeError(`generatePrompts: n must be a positive integer, got ${n}`);
	if (!COUNTERFACTUAL_KINDS.includes(counterfactual)) {
		throw new RangeError(`generatePrompts: counterfactual '${counterfactual}' (valid: ${COUNTERFACTUAL_KINDS.join(', ')})`);
	}
	// Separate streams, as train.py seeds its counterfactuals with seed + 1: the problems drawn do
	// not depend on which counterfactual kind is asked for, nor on the few-shot examples.
	// Fail before drawing: asking for more distinct problems than exist would only end at maxDraws.
	if (task.modulus) return modularRecords(task, n, seed); // every pair at most once, a-major, with meta
	if (unique && n > distinctProblems(task)) {
		throw new RangeError(`generatePrompts: ${formatTaskSpec(task)} has ${distinctProblems(task)} distinct problems, fewer than the ${n} asked for`);
	}
	const problems = createRng(seed);
	const counterfactuals = createRng(seed + 1);
	const shotRng = createRng(seed + 2);
	const [rangeA, rangeB] = [operandRange(task, 0), operandRange(task, 1)];
	const seen = new Set<string>();
	const records: PromptRecord[] = [];
	const maxDraws = 50 * n + 10_000;
	for (let draw = 0; records.length < n; draw++) {
		if (draw >= maxDraws) {
			throw new RangeError(`generatePrompts: drew only ${records.length} distinct ${formatTaskSpec(task)} problems of the ${n} asked for`);
		}
		const a = problems.int(...rangeA);
		const b = problems.int(...rangeB);
		if (task.op === 'sub' && a < b) continue; // differences stay non-negative
		if (unique) {
			if (seen.has(`${a},${b}`)) continue;
			seen.add(`${a},${b}`);
		}
		const prefix = task.shots ? fewShotPrefix(task, a, b, shotRng) : '';
		const rendered = makeExample(task, a, b);
		const ex = placeAnswerPrefix(rendered, task, tokenizer, prefix);
		const record: PromptRecord = { prompt: prefix + ex.prompt, answer: ex.answer };
		if (counterfactual === 'operand') {
			const found = operandCounterfactual(task, a, b, counterfactuals, { ...options, prefix });
			const cf = found && placeAnswerPrefix(found, task, tokenizer, prefix);
			if (cf) record.counterfactual = { prompt: prefix + cf.prompt, answer: cf.answer };
		} else if (counterfactual === 'operator-null') {
			// the blanked prompt ends where the clean one does: with the answer prefix, if it moved there
			const moved = ex.prompt.slice(rendered.prompt.length);
			record.counterfactual = { prompt: prefix + operatorNullCounterfactual(task, a, b).prompt + moved };
		}
		const meta: Record<string, unknown> = { op: task.op, a, b };
		if (task.shots) meta.shots = task.shots;
		if (task.op === 'mul') meta.subtasks = columnSubtasks(a, b, naturalAnswerWidth(task)).map((d) => d.class);
		record.meta = meta;
		records.push(record);
	}
	return records;
}

/** k solved problems of the task other than (a, b) and each other, each followed by the separator. */
function fewShotPrefix(task: Task, a: number, b: number, rng: Rng): string {
	const k = task.shots ?? 0;
	const [rangeA, rangeB] = [operandRange(task, 0), operandRange(task, 1)];
	const used = new Set([`${a},${b}`]);
	const shots: string[] = [];
	for (let draw = 0; shots.length < k; draw++) {
		if (draw >= 50 * k + 1000) throw new RangeError(`generatePrompts: found only ${shots.length} distinct solved examples of the ${k} asked for`);
		const x = rng.int(...rangeA);
		const y = rng.int(...rangeB);
		if ((task.op === 'sub' && x < y) || used.has(`${x},${y}`)) continue;
		used.add(`${x},${y}`);
		const ex = makeExample(task, x, y);
		shots.push(ex.prompt + ex.answer + (task.separator ?? DEFAULT_SHOT_SEPARATOR));
	}
	return shots.join('');
}
