// From a scan result to the head table of DESIGN §7 (score, rank, accuracy drop, logprob drop, effect
// per answer position) using the export helpers, and the top heads by count or percent.
import { headEntries, mlpEntries, type HeadEntry, type HeadScores, type MlpEntry, type MlpScores } from '../export/headTable';
import { topK, type RankOrder, type TopK } from '../export/rank';
import type { Tensor } from '../model/tensor';
import type { AblationResult } from './ablation';
import type { PatchResult, PathResult } from './patching';
import type { HeadRef } from './scan';
import type { RowMetric } from './scores';

export type ScanMethod = 'zero' | 'mean' | 'resample' | 'patch' | 'path';
export const SCAN_METHODS: readonly ScanMethod[] = ['zero', 'mean', 'resample', 'patch', 'path'];

/** CLI and export names of the score metrics (`logit-diff` is the row metric logit_diff). */
export type ScoreMetric = 'logprob' | 'accuracy' | 'logit-diff';
export const SCORE_METRICS: readonly ScoreMetric[] = ['logprob', 'accuracy', 'logit-diff'];
const ROW: Record<ScoreMetric, RowMetric> = { logprob: 'logprob', accuracy: 'accuracy', 'logit-diff': 'logit_diff' };

export type AnyScan = { method: 'zero' | 'mean' | 'resample'; result: AblationResult } | { method: 'patch'; result: PatchResult } | { method: 'path'; result: PathResult };

/** Path-patching changes rank most negative first (a key head lowers the answer logit); everything else highest first. */
export const rankOrderOf = (method: ScanMethod): RankOrder => (method === 'path' ? 'ascending' : 'descending');

/** The metric a method's score is in (path patching has one: the relative answer-logit change). */
export const scoreMetricName = (method: ScanMethod, metric: ScoreMetric): string => (method === 'path' ? 'answer_logit_rel' : metric);

function pick(metrics: Partial<Record<RowMetric, Tensor>>, metric: ScoreMetric, what: string): Tensor {
	const t = metrics[ROW[metric]];
	if (!t) throw new RangeError(`${what} has no ${metric} score (logit-diff needs a counterfactual answer for every prompt)`);
	return t;
}

export function headScores(scan: AnyScan, metric: ScoreMetric): HeadScores {
	if (scan.method === 'path') return { score: scan.result.heads };
	if (scan.method === 'patch') return { score: pick(scan.result.heads, metric, 'this patching scan') };
	const h = scan.result.heads;
	if (!h) throw new RangeError('this ablation scan has no head scores');
	return {
		score: pick(h.metrics, metric, 'this ablation scan'),
		accuracy_drop: h.metrics.accuracy,
		logprob_drop: h.metrics.logprob,
		position_accuracy_drop: h.position_accuracy
	};
}

export function mlpScores(scan: AnyScan, metric: ScoreMetric): MlpScores | undefined {
	if (scan.method === 'path') return undefined;
	if (scan.method === 'patch') return scan.result.mlps ? { score: pick(scan.result.mlps, metric, 'this patching scan') } : undefined;
	const m = scan.result.mlps;
	return m ? { score: pick(m.metrics, metric, 'this ablation scan'), accuracy_drop: m.metrics.accuracy, logprob_drop: m.metrics.logprob } : undefined;
}

/** The ranked head table (rank 1 = most important for this method) and MLP table. */
export function rankScan(scan: AnyScan, metric: ScoreMetric): { heads: HeadEntry[]; mlps: MlpEntry[] } {
	const order = rankOrderOf(scan.method);
	const mlp = mlpScores(scan, metric);
	return { heads: headEntries(headScores(scan, metric), order), mlps: mlp ? mlpEntries(mlp, order) : [] };
}

/** The first heads of a rank-sorted table, by count or percent of all heads. */
export const topHeads = (entries: readonly HeadEntry[], k: TopK): HeadRef[] => topK(entries, k).map(({ layer, head }) => ({ layer, head }));
