// Seeded prompt sets: draw distinct (a, b) problems of a task, render them as prompt-file records
// with a counterfactual each (operand change or operator-null) and the problem in `meta`.

import { operandCounterfactual, operatorNullCounterfactual, type CounterfactualOptions } from './counterfactual';
import type { PromptRecord } from './promptFile';
import { createRng } from './rng';
import { columnSubtasks } from './subtasks';
import { makeExample, naturalAnswerWidth, operandRange, type Task } from './task';
import { formatTaskSpec } from './taskSpec';

export type CounterfactualKind = 'operand' | 'operator-null' | 'none';
export const COUNTERFACTUAL_KINDS: readonly CounterfactualKind[] = ['operand', 'operator-null', 'none'];

export interface GenerateOptions extends CounterfactualOptions {
	n: number;
	seed: number;
	/** Default 'operand'. */
	counterfactual?: CounterfactualKind;
	/** Draw each (a, b) at most once (default true); fails when the task has fewer than n problems. */
	unique?: boolean;
}

export function generatePrompts(task: Task, options: GenerateOptions): PromptRecord[] {
	const { n, seed, counterfactual = 'operand', unique = true } = options;
	if (!Number.isInteger(n) || n < 1) throw new RangeError(`generatePrompts: n must be a positive integer, got ${n}`);
	if (!COUNTERFACTUAL_KINDS.includes(counterfactual)) {
		throw new RangeError(`generatePrompts: counterfactual '${counterfactual}' (valid: ${COUNTERFACTUAL_KINDS.join(', ')})`);
	}
	// Separate streams, as train.py seeds its counterfactuals with seed + 1: the problems drawn do
	// not depend on which counterfactual kind is asked for.
	const problems = createRng(seed);
	const counterfactuals = createRng(seed + 1);
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
		const ex = makeExample(task, a, b);
		const record: PromptRecord = { prompt: ex.prompt, answer: ex.answer };
		if (counterfactual === 'operand') {
			const cf = operandCounterfactual(task, a, b, counterfactuals, options);
			if (cf) record.counterfactual = { prompt: cf.prompt, answer: cf.answer };
		} else if (counterfactual === 'operator-null') {
			record.counterfactual = operatorNullCounterfactual(task, a, b);
		}
		const meta: Record<string, unknown> = { op: task.op, a, b };
		if (task.op === 'mul') meta.subtasks = columnSubtasks(a, b, naturalAnswerWidth(task)).map((d) => d.class);
		record.meta = meta;
		records.push(record);
	}
	return records;
}
