// Modular arithmetic tasks for the neuron lens (DESIGN §10; Doshi et al. 2023, Nanda et al. 2023):
// operands a, b in [0, p), answer (a op b) mod p, every residue one word (`12 + 34 =`, answer ` 46`).
// A seeded split puts a fraction of the p² pairs in training, and label corruption gives a seeded
// ξ-fraction of the training pairs a wrong label (never the true one). Each record's meta carries
// `split`, `corrupted` and `true_answer` (written as `answer` is, ` 46`); `answer` is the label a model
// was trained on.
// The split is this generator's own (mulberry32 from the seed): a shipped model's prompt files
// (models/mod-97/all.jsonl) carry the split it was trained on, and are what to analyse it with.
import type { PromptRecord } from './promptFile';
import { createRng } from './rng';
import type { Op, Task } from './task';

export type ModularSplit = 'all' | 'train' | 'test';

export interface Modular {
	p: number;
	/** Fraction of the p² pairs in the training split. */
	train: number;
	/** Fraction of the training pairs whose label is corrupted. */
	xi: number;
	/** Which pairs a generated set holds. */
	split: ModularSplit;
}

export const MODULAR_OPS: readonly Op[] = ['add', 'sub', 'mul'];
/** Largest modulus: p² records of one token each side already make a 1e6-row set at 1000. */
export const MAX_MODULUS = 1000;
export const MODULAR_DEFAULTS = Object.freeze({ train: 0.5, xi: 0, split: 'all' as ModularSplit });

const SYMBOL: Record<string, string> = { add: '+', sub: '-', mul: '*' };

export function modularValue(op: Op, a: number, b: number, p: number): number {
	const v = op === 'add' ? a + b : op === 'sub' ? a - b : a * b;
	return ((v % p) + p) % p;
}

export interface ModularData {
	/** Per pair index a * p + b: in the training split. */
	train: Uint8Array;
	/** Per pair index: the label trained on (the true value unless corrupted). */
	label: Int32Array;
	corrupted: Uint8Array;
}

/** The split and corrupted labels of a modular task, from the seed alone (not from n or the split shown). */
export function modularData(op: Op, m: Modular, seed: number): ModularData {
	const { p } = m;
	const N = p * p;
	const order = createRng(seed).shuffle(Array.from({ length: N }, (_, i) => i));
	const nTrain = Math.round(m.train * N);
	const train = new Uint8Array(N);
	for (let i = 0; i < nTrain; i++) train[order[i]] = 1;
	const label = Int32Array.from({ length: N }, (_, i) => modularValue(op, Math.floor(i / p), i % p, p));
	const corrupted = new Uint8Array(N);
	const noise = createRng(seed + 1); // its own stream: the split does not depend on ξ
	const trainPairs = noise.shuffle(order.slice(0, nTrain).sort((x, y) => x - y));
	for (const i of trainPairs.slice(0, Math.round(m.xi * nTrain))) {
		corrupted[i] = 1;
		label[i] = (label[i] + noise.int(1, p - 1)) % p;
	}
	return { train, label, corrupted };
}

/** Pairs the task's split holds, a-major. */
export function modularPairs(data: ModularData, split: ModularSplit): number[] {
	const out: number[] = [];
	for (let i = 0; i < data.train.length; i++) if (split === 'all' || (split === 'train') === (data.train[i] === 1)) out.push(i);
	return out;
}

/**
 * n records of the task's split, a-major (all of them when n is their count, as the neuron lens needs),
 * each with a counterfactual: b moved by a seeded non-zero step, its trained label as the answer.
 */
export function modularRecords(task: Task, n: number, seed: number): PromptRecord[] {
	const m = task.modulus!;
	const { p } = m;
	const data = modularData(task.op, m, seed);
	let pairs = modularPairs(data, m.split);
	if (n > pairs.length) throw new RangeError(`generatePrompts: this modular task's ${m.split} split has ${pairs.length} pairs, fewer than the ${n} asked for`);
	if (n < pairs.length) pairs = createRng(seed + 2).shuffle([...pairs]).slice(0, n).sort((x, y) => x - y);
	const steps = createRng(seed + 3);
	const prompt = (a: number, b: number) => `${a} ${SYMBOL[task.op]} ${b} =`;
	return pairs.map((i) => {
		const [a, b] = [Math.floor(i / p), i % p];
		const b2 = (b + steps.int(1, p - 1)) % p;
		return {
			prompt: prompt(a, b),
			answer: ` ${data.label[i]}`,
			counterfactual: { prompt: prompt(a, b2), answer: ` ${data.label[a * p + b2]}` },
			meta: { op: task.op, a, b, p, split: data.train[i] ? 'train' : 'test', corrupted: data.corrupted[i] === 1, true_answer: ` ${modularValue(task.op, a, b, p)}` }
		};
	});
}
