// The scan methods and the one pipeline from a method to ranked entries: the method table (labels,
// what a score means, how it ranks, what it needs), `runMethod` (run the ablation, patching or path
// scan on a ScanContext and rank heads and MLPs the way the exports rank them), and the provenance of
// its report. The CLI's `scan` and the page's worker both call this module.
//
// Ablation (zero / mean / resample) scores metric(clean) − metric(ablated); activation patching
// restores one head's clean z in the counterfactual run, (m_patched − m_corrupt) / (m_clean − m_corrupt);
// path patching gives one head its counterfactual z with every other head frozen at its clean z and
// scores the relative change of the answer logit, so key heads are negative and rank first.
import { headEntries, mlpEntries, type HeadEntry, type HeadScores, type MlpEntry, type MlpScores } from '../export/headTable';
import { makeProvenance, type Provenance, type ProvenanceInput } from '../export/provenance';
import { topK, type RankOrder, type TopK } from '../export/rank';
import type { Tensor } from '../model/tensor';
import { ablationScan, type AblationResult } from './ablation';
import { RANKING_METRIC_FLAGS, type MetricName, type RankingMetric } from './metrics';
import { patchScan, pathPatchScan, type PatchResult, type PathResult } from './patching';
import type { HeadRef } from '../model/spec';
import type { ScanContext, ScanOptions } from './scan';

export type ScanMethod = 'zero' | 'mean' | 'resample' | 'patch' | 'path';

export interface MethodInfo {
	/** Human name, for menus and summaries. */
	label: string;
	/** What a score means, for legends and tooltips. */
	scoreLabel: string;
	/** Rank 1 is the highest score, or (path patching: a key head lowers the answer logit) the most negative. */
	rankOrder: RankOrder;
	/** Patching runs the counterfactual prompt: only prompts with a usable counterfactual take part. */
	needsCounterfactual: boolean;
}

export const METHODS: Readonly<Record<ScanMethod, MethodInfo>> = Object.freeze({
	zero: { label: 'Zero ablation', scoreLabel: 'logprob drop', rankOrder: 'descending', needsCounterfactual: false },
	mean: { label: 'Mean ablation', scoreLabel: 'logprob drop', rankOrder: 'descending', needsCounterfactual: false },
	resample: { label: 'Resample ablation', scoreLabel: 'logprob drop', rankOrder: 'descending', needsCounterfactual: false },
	patch: { label: 'Activation patching', scoreLabel: 'restored fraction', rankOrder: 'descending', needsCounterfactual: true },
	path: { label: 'Path patching to logits', scoreLabel: 'answer logit change', rankOrder: 'ascending', needsCounterfactual: true }
});

export const SCAN_METHODS = Object.keys(METHODS) as readonly ScanMethod[];

export type AnyScan = { method: 'zero' | 'mean' | 'resample'; result: AblationResult } | { method: 'patch'; result: PatchResult } | { method: 'path'; result: PathResult };

/** The one ranking rule: path-patching changes rank most negative first, everything else highest first. */
const rankOrderOf = (method: ScanMethod): RankOrder => METHODS[method].rankOrder;

/** The metric a method's score is in, as the report's provenance names it (path patching has one: the relative answer-logit change). */
export const scoreMetricName = (method: ScanMethod, metric: RankingMetric): string => (method === 'path' ? 'answer_logit_rel' : RANKING_METRIC_FLAGS[metric]);

/**
 * Which counterfactual a scan needs of every prompt: its answer (logit diff), its prompt (patching),
 * or none. Path patching scores the answer logit, so it needs the prompt whatever the metric.
 */
export function counterfactualNeed(method: ScanMethod, metric: RankingMetric): 'answer' | 'prompt' | null {
	if (metric === 'logit_diff' && method !== 'path') return 'answer';
	return METHODS[method].needsCounterfactual ? 'prompt' : null;
}

function pick(metrics: Partial<Record<MetricName, Tensor>>, metric: RankingMetric, what: string): Tensor {
	const t = metrics[metric];
	if (!t) throw new RangeError(`${what} has no ${RANKING_METRIC_FLAGS[metric]} score (logit-diff needs a counterfactual answer for every prompt)`);
	return t;
}

export function headScores(scan: AnyScan, metric: RankingMetric): HeadScores {
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

function mlpScores(scan: AnyScan, metric: RankingMetric): MlpScores | undefined {
	if (scan.method === 'path') return undefined;
	if (scan.method === 'patch') return scan.result.mlps ? { score: pick(scan.result.mlps, metric, 'this patching scan') } : undefined;
	const m = scan.result.mlps;
	return m ? { score: pick(m.metrics, metric, 'this ablation scan'), accuracy_drop: m.metrics.accuracy, logprob_drop: m.metrics.logprob } : undefined;
}

/** The ranked head table (rank 1 = most important for this method) and MLP table. */
export function rankScan(scan: AnyScan, metric: RankingMetric): { heads: HeadEntry[]; mlps: MlpEntry[] } {
	const order = rankOrderOf(scan.method);
	const mlp = mlpScores(scan, metric);
	return { heads: headEntries(headScores(scan, metric), order), mlps: mlp ? mlpEntries(mlp, order) : [] };
}

/** The first heads of a rank-sorted table, by count or percent of all heads. */
export const topHeads = (entries: readonly HeadEntry[], k: TopK): HeadRef[] => topK(entries, k).map(({ layer, head }) => ({ layer, head }));

export interface MethodOptions extends ScanOptions {
	method: ScanMethod;
	/** The metric heads are scored and ranked by (default logprob); path patching always scores the answer logit. */
	metric?: RankingMetric;
	/** Resample: seed of the permutation, or the permutation itself (prompt i takes prompt perm[i]). */
	seed?: number;
	perm?: readonly number[];
}

/** A method's scan ranked: what the head table, the JSON report and the page's figures show. */
export interface RankedScan {
	method: ScanMethod;
	/** The metric the scores are in (provenance.metric): the ranking metric's flag name, or answer_logit_rel. */
	metric: string;
	/** Heads in rank order (1 = most important for this method), with accuracy, logprob and per-position drops for ablations. */
	heads: HeadEntry[];
	/** MLP layers in rank order; empty for path patching and attention-only models. */
	mlps: MlpEntry[];
	/** Clean-run metrics averaged over the prompts. */
	clean: Record<string, number>;
	/** Prompts the scores average over. */
	n: number;
	/** The scan itself (per-row tables, the ablation base run for subtask reports). */
	scan: AnyScan;
}

/**
 * Runs `method` on every head (and MLP layer) of the context's prompts and ranks them. The prompts
 * must already meet `counterfactualNeed` (the CLI leaves out the others with a note, the worker
 * counts them as leftOut).
 */
export async function runMethod(ctx: ScanContext, options: MethodOptions): Promise<RankedScan> {
	const { method, metric = 'logprob', seed, perm, ...run } = options;
	const scan: AnyScan =
		method === 'patch'
			? { method, result: await patchScan(ctx, run) }
			: method === 'path'
				? { method, result: await pathPatchScan(ctx, run) }
				: { method, result: await ablationScan(ctx, { ...run, method, perm, seed }) };
	const { heads, mlps } = rankScan(scan, metric);
	return { method, metric: scoreMetricName(method, metric), heads, mlps, clean: scan.result.clean, n: ctx.set.prompts.length, scan };
}

/** What a report cites besides the method and metric: model, prompts, seed, backend (DESIGN §7). */
export type ScanSource = Omit<ProvenanceInput, 'method' | 'metric'>;

/** The provenance of a ranked scan's report, assembled the same way for the CLI and the page. */
export const scanProvenance = (source: ScanSource, ran: Pick<RankedScan, 'method' | 'metric'>): Provenance =>
	makeProvenance({ ...source, method: ran.method, metric: ran.metric });
