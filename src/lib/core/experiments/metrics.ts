// Metrics of DESIGN §5 on plain logits, mirroring models/train/experiments.py `metrics`.
// A row is prompt ids + answer ids (teacher forcing): answer token i of row b is predicted by the
// logits at position nPrompt[b] - 1 + i. Per prompt: logprob (sum over answer tokens of log p),
// accuracy (1 when every answer token is the argmax, which equals greedy exact match), correctness
// per answer position, the first answer token's logit and the logit diff against the
// counterfactual's first answer token. Scores of a component compare these between runs. The same
// values come from full logits, from logits gathered at the scored positions, or from what the
// engine's scoring graphs return in place of logits (log-normaliser, argmax, target logits).

import type { Tensor } from '../model/tensor';
import { maxOf } from '../model/arrays';
import type { ScoreOutputs } from '../runtime/engine';

export interface AnswerTargets {
	/** Answer token ids per row (tokenizer(answer) without special tokens). */
	answers: readonly (readonly number[])[];
	/** First answer token of each row's counterfactual; gives logit_diff. */
	cfFirst?: readonly number[];
}

export interface ScoringTargets extends AnswerTargets {
	/** Prompt tokens per row, special tokens included. */
	nPrompt: readonly number[];
}

/**
 * The per-prompt metrics, by the names the reference, the fixtures' scan.* tensors and the JSON
 * report's `clean` use. The one metric vocabulary: scans, score tables and rankings all name metrics so.
 */
export const METRIC_NAMES = ['logprob', 'accuracy', 'answer_logit', 'logit_diff'] as const;
export type MetricName = (typeof METRIC_NAMES)[number];

/**
 * The metrics a scan can rank by, and their names on the command line and in a report's
 * `provenance.metric` (`--metric logit-diff` is logit_diff).
 */
export const RANKING_METRIC_FLAGS = { logprob: 'logprob', accuracy: 'accuracy', logit_diff: 'logit-diff' } as const satisfies Partial<Record<MetricName, string>>;
export type RankingMetric = keyof typeof RANKING_METRIC_FLAGS;
export const RANKING_METRICS = Object.keys(RANKING_METRIC_FLAGS) as RankingMetric[];

/** The ranking metric a `--metric` value names, or undefined. */
export const rankingMetricOfFlag = (flag: string): RankingMetric | undefined => RANKING_METRICS.find((m) => RANKING_METRIC_FLAGS[m] === flag);

/** Per-prompt values; names as in the reference (and the fixtures' scan.* tensors). */
export interface PromptMetrics {
	logprob: number[];
	accuracy: number[];
	answer_logit: number[];
	logit_diff?: number[];
	/** Per row, per answer position: 1 if that answer token is the argmax, else 0. */
	position_correct: number[][];
}

/** Shared scorer: `at(b, i)` is the offset in logits.data of the V logits predicting answer token i of row b. */
function score(logits: Tensor, t: AnswerTargets, at: (b: number, i: number) => number): PromptMetrics {
	const V = logits.shape[2];
	const x = logits.data;
	const B = t.answers.length;
	if (t.cfFirst && t.cfFirst.length !== B) throw new RangeError(`metrics: ${t.cfFirst.length} counterfactual ids for ${B} rows`);
	const out: PromptMetrics = { logprob: [], accuracy: [], answer_logit: [], position_correct: [] };
	if (t.cfFirst) out.logit_diff = [];
	for (let b = 0; b < B; b++) {
		const answer = t.answers[b];
		if (answer.length === 0) throw new RangeError(`metrics: row ${b} has no answer tokens`);
		let logprob = 0;
		const correct: number[] = [];
		answer.forEach((tok, i) => {
			if (!Number.isInteger(tok) || tok < 0 || tok >= V) throw new RangeError(`metrics: row ${b} answer token ${tok} outside vocab of ${V}`);
			const o = at(b, i);
			let max = -Infinity;
			let argmax = -1;
			for (let v = 0; v < V; v++) if (x[o + v] > max) [max, argmax] = [x[o + v], v]; // first maximum, like torch
			let sum = 0;
			for (let v = 0; v < V; v++) sum += Math.exp(x[o + v] - max);
			logprob += x[o + tok] - max - Math.log(sum);
			correct.push(argmax === tok ? 1 : 0);
		});
		const first = at(b, 0);
		out.logprob.push(logprob);
		out.accuracy.push(correct.every((c) => c === 1) ? 1 : 0);
		out.answer_logit.push(x[first + answer[0]]);
		out.position_correct.push(correct);
		if (t.cfFirst) {
			const cf = t.cfFirst[b];
			if (!Number.isInteger(cf) || cf < 0 || cf >= V) throw new RangeError(`metrics: row ${b} counterfactual token ${cf} outside vocab of ${V}`);
			out.logit_diff!.push(x[first + answer[0]] - x[first + cf]);
		}
	}
	return out;
}

/** Metrics from full logits [B, T, V]. */
export function promptMetrics(logits: Tensor, t: ScoringTargets): PromptMetrics {
	if (logits.shape.length !== 3) throw new RangeError(`promptMetrics: logits must be [B, T, V], got [${logits.shape}]`);
	const [B, T, V] = logits.shape;
	if (t.nPrompt.length !== B || t.answers.length !== B) {
		throw new RangeError(`promptMetrics: ${B} logit rows, ${t.nPrompt.length} prompt lengths, ${t.answers.length} answers`);
	}
	t.nPrompt.forEach((n, b) => {
		if (!Number.isInteger(n) || n < 1 || n - 1 + t.answers[b].length > T) {
			throw new RangeError(`promptMetrics: row ${b} scores positions ${n - 1}..${n - 2 + t.answers[b].length}, logits have T = ${T}`);
		}
	});
	return score(logits, t, (b, i) => (b * T + t.nPrompt[b] - 1 + i) * V);
}

/** Metrics from logits gathered at the scored positions [B, P, V] (slot i predicts answer token i; extra slots ignored). */
export function gatheredPromptMetrics(logits: Tensor, t: AnswerTargets): PromptMetrics {
	if (logits.shape.length !== 3) throw new RangeError(`gatheredPromptMetrics: logits must be [B, P, V], got [${logits.shape}]`);
	const [B, P, V] = logits.shape;
	if (t.answers.length !== B) throw new RangeError(`gatheredPromptMetrics: ${B} logit rows, ${t.answers.length} answers`);
	t.answers.forEach((a, b) => {
		if (a.length > P) throw new RangeError(`gatheredPromptMetrics: row ${b} has ${a.length} answer tokens, logits only ${P} positions`);
	});
	return score(logits, t, (b, i) => (b * P + i) * V);
}

/**
 * The ids a scoring run reads at each gathered slot (engine `score.targets`, [B][P][K]), in the
 * layout of scoredPositions: slot i of row b holds answer token min(i, len − 1) (slots past the
 * answer repeat the last and are ignored), then the counterfactual's first token when given.
 */
export function scoreTargets(t: AnswerTargets, P: number): number[][][] {
	return t.answers.map((answer, b) => padSlots(answer, P).map((tok) => (t.cfFirst ? [tok, t.cfFirst[b]] : [tok])));
}

/**
 * Metrics from a scoring run whose targets were scoreTargets(t, P): the same values as
 * gatheredPromptMetrics on the logits of that run (log p = logit − logsumexp; a token is correct when
 * it is the argmax, the first maximum on ties as in `score`).
 */
export function scoredPromptMetrics(s: ScoreOutputs, t: AnswerTargets): PromptMetrics {
	const [B, P, K] = s.logits.shape;
	if (s.logits.shape.length !== 3 || s.logsumexp.shape.join() !== `${B},${P}` || s.argmax.shape.join() !== `${B},${P}`)
		throw new RangeError(`scoredPromptMetrics: shapes [${s.logsumexp.shape}], [${s.argmax.shape}], [${s.logits.shape}] are not [B,P], [B,P], [B,P,K]`);
	if (t.answers.length !== B) throw new RangeError(`scoredPromptMetrics: ${B} scored rows, ${t.answers.length} answers`);
	if (t.cfFirst && (t.cfFirst.length !== B || K < 2)) throw new RangeError(`scoredPromptMetrics: logit diff needs ${B} rows with the counterfactual id as target 1 (K = ${K})`);
	const lse = s.logsumexp.data;
	const argmax = s.argmax.data;
	const x = s.logits.data;
	const out: PromptMetrics = { logprob: [], accuracy: [], answer_logit: [], position_correct: [] };
	if (t.cfFirst) out.logit_diff = [];
	t.answers.forEach((answer, b) => {
		if (answer.length === 0) throw new RangeError(`scoredPromptMetrics: row ${b} has no answer tokens`);
		if (answer.length > P) throw new RangeError(`scoredPromptMetrics: row ${b} has ${answer.length} answer tokens, scores only ${P} positions`);
		let logprob = 0;
		const correct = answer.map((tok, i) => {
			const slot = b * P + i;
			logprob += x[slot * K] - lse[slot];
			return argmax[slot] === tok ? 1 : 0;
		});
		const first = x[b * P * K];
		out.logprob.push(logprob);
		out.accuracy.push(correct.every((c) => c === 1) ? 1 : 0);
		out.answer_logit.push(first);
		out.position_correct.push(correct);
		if (t.cfFirst) out.logit_diff!.push(first - x[b * P * K + 1]);
	});
	return out;
}

/**
 * A row's per-answer-token values padded to P slots by repeating the last: the rows of a batch gather
 * P = the longest answer's positions, and the slots past a row's own answer are read but never scored.
 * Every scored position and scoring target of a batch is laid out so.
 */
export const padSlots = <T>(values: readonly T[], P: number): T[] => Array.from({ length: P }, (_, i) => values[Math.min(i, values.length - 1)]);

/** The positions to gather per row (engine `positions`): nPrompt-1 … nPrompt-2+len, padded to the longest answer (padSlots). */
export function scoredPositions(t: Pick<ScoringTargets, 'nPrompt' | 'answers'>): number[][] {
	const P = maxOf(t.answers.map((a) => a.length));
	return t.nPrompt.map((n, b) => padSlots(t.answers[b].map((_, i) => n - 1 + i), P));
}

const mean = (xs: readonly number[]): number => {
	if (xs.length === 0) throw new RangeError('mean of no values');
	return xs.reduce((a, b) => a + b, 0) / xs.length;
};

/** Accuracy per answer position, over the prompts whose answer reaches that position. */
export function positionAccuracy(m: PromptMetrics): number[] {
	const P = maxOf(m.position_correct.map((r) => r.length));
	return Array.from({ length: P }, (_, i) => mean(m.position_correct.filter((r) => r.length > i).map((r) => r[i])));
}

function paired(name: string, a: readonly number[], b: readonly number[]) {
	if (a.length !== b.length || a.length === 0) throw new RangeError(`${name}: need equal, non-empty per-prompt arrays (got ${a.length} and ${b.length})`);
}

/** Ablation score: mean over prompts of metric(clean) - metric(intervened). */
export function ablationScore(clean: readonly number[], intervened: readonly number[]): number {
	paired('ablationScore', clean, intervened);
	return mean(clean.map((c, i) => c - intervened[i]));
}

/** Patching score (mean(patched) - mean(corrupt)) / (mean(clean) - mean(corrupt)): 1 = fully restored, 0 = no effect. */
export function patchingScore(patched: readonly number[], corrupt: readonly number[], clean: readonly number[]): number {
	paired('patchingScore', patched, corrupt);
	paired('patchingScore', patched, clean);
	return (mean(patched) - mean(corrupt)) / (mean(clean) - mean(corrupt));
}

/** Path patching (Zhang et al.): mean over prompts of (logit_patched - logit_clean) / |logit_clean| of the correct first answer token. */
export function pathPatchingChange(patchedLogit: readonly number[], cleanLogit: readonly number[]): number {
	paired('pathPatchingChange', patchedLogit, cleanLogit);
	return mean(patchedLogit.map((p, i) => (p - cleanLogit[i]) / Math.abs(cleanLogit[i])));
}

/** A head whose path-patching change is below -5% is a key head (Zhang et al. 2024). */
const KEY_HEAD_THRESHOLD = -0.05;
export const isKeyHead = (change: number): boolean => change < KEY_HEAD_THRESHOLD;
