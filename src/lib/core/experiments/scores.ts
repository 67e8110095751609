// Per-row metrics of every (component, prompt) row of a scan, kept per answer position as well, so
// one scan yields the summary score, the accuracy and logprob drops, and effects per answer digit.
import type { Tensor } from '../model/tensor';
import type { HookName } from '../model/hooks';
import type { Engine, RunOptions, ScoreOutputs } from '../runtime/engine';
import { gatheredPromptMetrics, METRIC_NAMES, padSlots, scoredPromptMetrics, scoreTargets, type MetricName } from './metrics';

/** Metrics of C components × N prompts; per answer position up to P (NaN where a prompt's answer is shorter). */
export class ScoreTable {
	readonly values: Record<MetricName, Float64Array>;
	/** log p of answer token i, [C, N, P]. */
	readonly positionLogprob: Float64Array;
	/** 1 when answer token i is the argmax, [C, N, P]. */
	readonly positionCorrect: Float64Array;

	constructor(
		readonly C: number,
		readonly N: number,
		readonly P: number
	) {
		const filled = (n: number) => new Float64Array(n).fill(NaN);
		this.values = { logprob: filled(C * N), accuracy: filled(C * N), answer_logit: filled(C * N), logit_diff: filled(C * N) };
		this.positionLogprob = filled(C * N * P);
		this.positionCorrect = filled(C * N * P);
	}

	get(metric: MetricName, c: number, n: number): number {
		return this.values[metric][c * this.N + n];
	}

	/** Copies prompt n's row from another table (a no-op intervention scores as its base run). */
	copyFrom(src: ScoreTable, srcC: number, c: number, n: number): void {
		for (const m of METRIC_NAMES) this.values[m][c * this.N + n] = src.values[m][srcC * src.N + n];
		const [from, to] = [(srcC * src.N + n) * src.P, (c * this.N + n) * this.P];
		for (let i = 0; i < Math.min(this.P, src.P); i++) {
			this.positionLogprob[to + i] = src.positionLogprob[from + i];
			this.positionCorrect[to + i] = src.positionCorrect[from + i];
		}
	}

	/** Prompt-mean of a metric for component c (over all N prompts). */
	mean(metric: MetricName, c = 0): number {
		let sum = 0;
		for (let n = 0; n < this.N; n++) sum += this.values[metric][c * this.N + n];
		return sum / this.N;
	}

	/** Per-prompt values of component c. */
	row(metric: MetricName, c = 0): number[] {
		return Array.from(this.values[metric].subarray(c * this.N, (c + 1) * this.N));
	}
}

export interface RowTarget {
	answer: readonly number[];
	cfFirst?: number;
}

/** Ids a scoring run of these rows reads at P gathered slots (engine `score.targets`): each answer token, and the counterfactual's first token when every row has one. */
function rowScoreTargets(targets: readonly RowTarget[], P: number): number[][][] {
	const withCf = targets.every((t) => t.cfFirst !== undefined);
	return scoreTargets({ answers: targets.map((t) => t.answer), cfFirst: withCf ? targets.map((t) => t.cfFirst!) : undefined }, P);
}

/**
 * One run of rows whose logits are gathered at `options.positions`, returning what scoreRows reads:
 * the scoring graph's outputs (inGraph), or the gathered logits.
 */
export async function runScored(
	engine: Engine,
	tokens: number[][],
	options: RunOptions & { positions: number[][] },
	targets: readonly RowTarget[],
	inGraph: boolean
): Promise<{ scored: Tensor | ScoreOutputs; cache: Map<HookName, Tensor> }> {
	if (!inGraph) {
		const { logits, cache } = await engine.run(tokens, options);
		return { scored: logits, cache };
	}
	const { scores, cache } = await engine.run(tokens, { ...options, score: { targets: rowScoreTargets(targets, options.positions[0].length) } });
	return { scored: scores, cache };
}

/**
 * Scores one batch into `table` at (components[b], prompts[b]): gathered logits [B, P, V] (slot i
 * predicts answer token i; extra slots ignored), or the scores of a scoring run whose targets were
 * rowScoreTargets(targets, P). The metrics are computed per answer slot — each slot seen as its own
 * one-token answer — and summed (logprob) or and-ed (accuracy) into the prompt's value, exactly as
 * DESIGN §5 defines them.
 */
export function scoreRows(table: ScoreTable, scored: Tensor | ScoreOutputs, targets: readonly RowTarget[], components: readonly number[], prompts: readonly number[]): void {
	const [B, P] = 'data' in scored ? scored.shape : scored.logsumexp.shape;
	if (targets.length !== B) throw new RangeError(`scoreRows: ${B} scored rows, ${targets.length} targets`);
	// [B, P, ...] seen as B·P rows of one position: one call scores every slot.
	const slots: number[][] = [];
	const cf: number[] = [];
	const withCf = targets.every((t) => t.cfFirst !== undefined);
	for (const t of targets)
		for (const tok of padSlots(t.answer, P)) {
			slots.push([tok]);
			cf.push(t.cfFirst ?? 0);
		}
	const perSlot = { answers: slots, cfFirst: withCf ? cf : undefined };
	const m =
		'data' in scored
			? gatheredPromptMetrics({ data: scored.data, shape: [B * P, 1, scored.shape[2]] }, perSlot)
			: scoredPromptMetrics(
					{
						logsumexp: { data: scored.logsumexp.data, shape: [B * P, 1] },
						argmax: { data: scored.argmax.data, shape: [B * P, 1] },
						logits: { data: scored.logits.data, shape: [B * P, 1, scored.logits.shape[2]] }
					},
					perSlot
				);
	for (let b = 0; b < B; b++) {
		const [c, n, A] = [components[b], prompts[b], targets[b].answer.length];
		const at = c * table.N + n;
		let logprob = 0;
		let correct = 1;
		for (let i = 0; i < A; i++) {
			const s = b * P + i;
			logprob += m.logprob[s];
			correct &= m.accuracy[s];
			if (i < table.P) {
				table.positionLogprob[at * table.P + i] = m.logprob[s];
				table.positionCorrect[at * table.P + i] = m.accuracy[s];
			}
		}
		table.values.logprob[at] = logprob;
		table.values.accuracy[at] = correct;
		table.values.answer_logit[at] = m.answer_logit[b * P];
		if (m.logit_diff) table.values.logit_diff[at] = m.logit_diff[b * P];
	}
}
