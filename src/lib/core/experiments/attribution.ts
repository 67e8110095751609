// Direct logit attribution and the logit lens of a prompt set (DESIGN §11): one attributing forward
// per batch of clean rows (graph/attribution.ts computes both at the scored positions), then the
// per-prompt values and their means per answer position, over the prompts that have that position.
// At answer position 0 the logit difference against the counterfactual's first answer token is
// attributed too (prompts with a usable counterfactual answer only).
import { maxOf } from '../model/arrays';
import { answerTokenTexts, type ArithTokenizer } from '../model/index';
import type { Spec } from '../model/spec';
import type { AttributionOutputs, Engine } from '../runtime/engine';
import { forEachBatch, type BatchControl } from './batches';
import { cachingRowBytes } from './cost';
import { cleanRow, scoredSlots, type EncodedPrompt, type PromptSet } from './prompts';
import type { ScanProgress } from './scan';

/** Component names in the order of every attribution vector: embeddings, then per block its heads, b_O and MLP, then the constant. */
export function componentNames(s: Spec): string[] {
	const names = ['embed'];
	if (s.pos === 'standard') names.push('pos_embed');
	for (let l = 0; l < s.n_layers; l++) {
		for (let h = 0; h < s.n_heads; h++) names.push(`L${l}H${h}`);
		if (s.o_bias) names.push(`L${l}.b_O`);
		if (!s.attn_only) names.push(`MLP${l}`);
	}
	names.push('constant');
	return names;
}

export interface PromptAttribution {
	/** Index of the prompt in the set. */
	index: number;
	/** Per answer position: the clean logit of the answer token. */
	logit: number[];
	/** Per answer position: each component's share of that logit (componentNames order). */
	components: Float64Array[];
	/** At answer position 0: each component's share of logit(answer) − logit(counterfactual answer); null without one. */
	logitDiff: Float64Array | null;
	/** Per answer position: log p and rank of the answer token read at each layer (0..L−1 block inputs, L the output). */
	lens: { logprob: number[]; rank: number[] }[];
}

export interface ComponentShare {
	name: string;
	logit: number;
	/** Null away from answer position 0, or when no prompt has a usable counterfactual answer. */
	logit_diff: number | null;
}

export interface PositionAttribution {
	/** Answer position (0 = the first answer token). */
	index: number;
	/** Prompts with an answer token at this position (the means average over them). */
	n: number;
	/** Mean clean logit of the answer token. */
	logit: number;
	components: ComponentShare[];
	lens: { layer: number; logprob: number; rank: number }[];
}

export interface AttributionResult {
	names: string[];
	positions: PositionAttribution[];
	prompts: PromptAttribution[];
	/** Prompts whose logit difference was attributed (they have a counterfactual answer). */
	logitDiffPrompts: number;
}

export interface AttributionOptions extends BatchControl {
	onProgress?: (p: ScanProgress) => void;
}

/** Ids each gathered slot attributes: the answer token, and the counterfactual's first token at slot 0 (else the answer again). */
function slotTargets(p: EncodedPrompt, P: number): number[][] {
	return Array.from({ length: P }, (_, i) => {
		const t = p.answer[Math.min(i, p.answer.length - 1)];
		return [t, i === 0 && p.cfFirst !== undefined ? p.cfFirst : t];
	});
}

/** Row b, slot i, target k of the attribution tensors as one vector in componentNames order. */
function componentVector(s: Spec, a: AttributionOutputs, b: number, i: number, k: number, P: number): Float64Array {
	const { n_layers: L, n_heads: H } = s;
	const K = 2;
	const out: number[] = [];
	const at3 = (t: { data: Float32Array } | undefined) => (t ? t.data[(b * P + i) * K + k] : 0);
	out.push(at3(a.embed));
	if (s.pos === 'standard') out.push(at3(a.pos));
	for (let l = 0; l < L; l++) {
		for (let h = 0; h < H; h++) out.push(a.heads.data[(((b * P + i) * L + l) * H + h) * K + k]);
		if (s.o_bias) out.push(a.bias!.data[((b * P + i) * L + l) * K + k]);
		if (!s.attn_only) out.push(a.mlps!.data[((b * P + i) * L + l) * K + k]);
	}
	out.push(at3(a.constant));
	return Float64Array.from(out);
}

const difference = (x: Float64Array, y: Float64Array): Float64Array => x.map((v, c) => v - y[c]);

/** Attributes every prompt of the set (clean rows, no intervention). */
export async function attributeSet(engine: Engine, set: PromptSet, options: AttributionOptions = {}): Promise<AttributionResult> {
	const s = engine.spec;
	const names = componentNames(s);
	const L = s.n_layers;
	const prompts: PromptAttribution[] = new Array(set.prompts.length);
	let done = 0;
	options.onProgress?.({ done, total: set.prompts.length, stage: 'attribution' });
	for (const group of set.groups) {
		const T = group.length;
		const P = set.maxAnswer;
		// the lens adds L + 1 vocabulary projections per slot to a base run's row
		const rowBytes = cachingRowBytes(s, T, P) + 8 * P * (L + 1) * s.d_vocab;
		await forEachBatch(group.members, rowBytes, options, async (members) => {
			const rows = members.map((n) => set.prompts[n]);
			const Pn = maxOf(rows.map((p) => p.answer.length));
			const { scores, attribution } = await engine.run(rows.map(cleanRow), {
				positions: rows.map((p) => scoredSlots(p, Pn)),
				score: { targets: rows.map((p) => slotTargets(p, Pn)), attribute: true }
			});
			const a = attribution!;
			rows.forEach((p, b) => {
				const at = (t: { data: Float32Array }, i: number, width: number, j: number) => t.data[(b * Pn + i) * width + j];
				const positions = p.answer.map((_, i) => i);
				prompts[p.index] = {
					index: p.index,
					logit: positions.map((i) => at(scores.logits, i, 2, 0)),
					components: positions.map((i) => componentVector(s, a, b, i, 0, Pn)),
					logitDiff: p.cfFirst === undefined ? null : difference(componentVector(s, a, b, 0, 0, Pn), componentVector(s, a, b, 0, 1, Pn)),
					lens: positions.map((i) => ({
						logprob: Array.from({ length: L + 1 }, (_, l) => at(a.lensLogprob, i, L + 1, l)),
						rank: Array.from({ length: L + 1 }, (_, l) => at(a.lensRank, i, L + 1, l))
					}))
				};
			});
			options.onProgress?.({ done: (done += members.length), total: set.prompts.length, stage: 'attribution' });
		});
	}
	return { names, positions: meanPositions(names, prompts, L), prompts, logitDiffPrompts: prompts.filter((p) => p.logitDiff).length };
}

/** Text of each answer position's token, as the first prompt that has that position writes it (labels of reports and the page). */
export function positionTokens(tokenizer: ArithTokenizer, set: PromptSet, P: number): string[] {
	return Array.from({ length: P }, (_, i) => {
		const p = set.prompts.find((q) => q.answer.length > i)!;
		return answerTokenTexts(tokenizer, { prompt: p.prompt, answer: p.answer })[i];
	});
}

/** Means per answer position over the prompts that have it (logit diff at position 0 over those that have one). */
function meanPositions(names: string[], prompts: readonly PromptAttribution[], L: number): PositionAttribution[] {
	const P = maxOf(prompts.map((p) => p.logit.length));
	const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
	return Array.from({ length: P }, (_, i) => {
		const have = prompts.filter((p) => p.logit.length > i);
		const diffs = i === 0 ? prompts.filter((p) => p.logitDiff) : [];
		return {
			index: i,
			n: have.length,
			logit: mean(have.map((p) => p.logit[i])),
			components: names.map((name, c) => ({
				name,
				logit: mean(have.map((p) => p.components[i][c])),
				logit_diff: diffs.length ? mean(diffs.map((p) => p.logitDiff![c])) : null
			})),
			lens: Array.from({ length: L + 1 }, (_, l) => ({
				layer: l,
				logprob: mean(have.map((p) => p.lens[i].logprob[l])),
				rank: mean(have.map((p) => p.lens[i].rank[l]))
			}))
		};
	});
}
