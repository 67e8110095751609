// Scoring in the graph gives the metrics of the full-logits path: on every fixture with scans, the
// clean and corrupted rows scored from the engine's score outputs (log-normaliser, argmax, target
// logits) equal the metrics of the same run's gathered logits to 1e-5, with identical accuracy. Ties
// go to the first maximum on both paths, checked on a model whose logits tie exactly.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatheredPromptMetrics, scoredPromptMetrics, scoredPositions, scoreTargets, type AnswerTargets } from '../../src/lib/core/experiments/metrics';
import { cleanRow, corruptRow } from '../../src/lib/core/experiments/prompts';
import { loadModel } from '../../src/lib/core/model/index';
import { createNodeEngine } from '../../src/lib/core/runtime/node';
import { folderSource } from '../../src/cli/node-source';
import { readFixture } from '../engine/fixtures';
import { expectClose, loadScanFixture, scanFixtureNames, type Loaded } from './helpers';

const TOL = 1e-5;
const names = scanFixtureNames();

it('finds the reference scan fixtures', () => {
	expect(names.length).toBeGreaterThanOrEqual(13);
});

describe.each(names)('%s', (name) => {
	let f: Loaded;
	beforeAll(async () => (f = await loadScanFixture(name)));
	afterAll(() => f?.engine.dispose());

	it.each(['clean', 'corrupt'] as const)('%s rows: metrics from the score outputs equal those from the gathered logits', async (base) => {
		const prompts = f.set.prompts;
		const targets: AnswerTargets = { answers: prompts.map((p) => p.answer), cfFirst: f.set.hasLogitDiff ? prompts.map((p) => p.cfFirst!) : undefined };
		for (const group of f.set.groups) {
			const members = group.members.map((n) => prompts[n]);
			const tokens = members.map(base === 'clean' ? cleanRow : corruptRow);
			const t: AnswerTargets = { answers: group.members.map((n) => targets.answers[n]), cfFirst: targets.cfFirst && group.members.map((n) => targets.cfFirst![n]) };
			const positions = scoredPositions({ nPrompt: members.map((p) => p.prompt.length), answers: t.answers });
			const P = positions[0].length;
			const { logits } = await f.engine.run(tokens, { positions });
			const scored = await f.engine.run(tokens, { positions, score: { targets: scoreTargets(t, P) } });
			expect(scored.logits, 'logits stay in the graph unless asked for').toBeUndefined();
			const want = gatheredPromptMetrics(logits, t);
			const got = scoredPromptMetrics(scored.scores, t);
			const label = `${name} ${base} T=${group.length}`;
			expectClose(`${label} logprob`, got.logprob, want.logprob, TOL);
			expectClose(`${label} answer_logit`, got.answer_logit, want.answer_logit, TOL);
			if (t.cfFirst) expectClose(`${label} logit_diff`, got.logit_diff!, want.logit_diff!, TOL);
			else expect(got.logit_diff).toBeUndefined();
			expect(got.accuracy, `${label} accuracy`).toEqual(want.accuracy);
			expect(got.position_correct, `${label} position_correct`).toEqual(want.position_correct);
		}
	});
});

describe('argmax ties', () => {
	it('go to the first maximum in the graph and in metrics.ts alike', async () => {
		const model = await loadModel(folderSource(readFixture('tiny-gpt2').modelDir));
		// untied head with W_U = 0 and bias b_U: every position's logits are exactly b_U, which ties ids 3 and 7 at the top
		const V = model.spec.d_vocab;
		const spec = { ...model.spec, tied: false, unembed_bias: true };
		const b_U = new Float32Array(V);
		[b_U[3], b_U[7], b_U[1]] = [2, 2, 1];
		const weights = new Map(model.weights)
			.set('W_U', { data: new Float32Array(spec.d_model * V), shape: [spec.d_model, V] })
			.set('b_U', { data: b_U, shape: [V] });
		const engine = await createNodeEngine({ spec, weights });
		try {
			const tokens = [[1, 2, 3, 4], [4, 3, 2, 1]];
			const t: AnswerTargets = { answers: [[3, 7], [7, 1]], cfFirst: [7, 3] };
			const positions = [[1, 2], [0, 3]];
			const { logits } = await engine.run(tokens, { positions });
			const { scores } = await engine.run(tokens, { positions, score: { targets: scoreTargets(t, 2) } });
			expect(Array.from(scores.argmax.data)).toEqual([3, 3, 3, 3]);
			const want = gatheredPromptMetrics(logits, t);
			const got = scoredPromptMetrics(scores, t);
			expect(want.position_correct).toEqual([[1, 0], [0, 0]]);
			expect(want.logit_diff).toEqual([0, 0]);
			expect({ ...got, logprob: [] }).toEqual({ ...want, logprob: [] });
			expectClose('tied logprob', got.logprob, want.logprob, TOL);
		} finally {
			await engine.dispose();
		}
	});
});
