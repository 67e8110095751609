// The shipped models (models/<id>, each skipped until its folder exists): clean evaluation of the
// held-out prompts equals the model card the reference wrote (models/<id>/eval.json, evaluate.py),
// multiplication accuracy per subtask class equals its per-subtask numbers, and the faithfulness of
// each model's top mean-ablation heads, with the set-ablated row checked against a direct engine run.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { folderSource } from '../../src/cli/node-source';
import { ablationScan } from '../../src/lib/core/experiments/ablation';
import { evaluatePrompts } from '../../src/lib/core/experiments/evaluate';
import { faithfulness } from '../../src/lib/core/experiments/faithfulness';
import { promptMetrics } from '../../src/lib/core/experiments/metrics';
import { mulDigits, mulSubtasks } from '../../src/lib/core/experiments/multiplication';
import { cleanRow, encodePromptSet, sequenceLength } from '../../src/lib/core/experiments/prompts';
import { rankScan, topHeads } from '../../src/lib/core/experiments/methods';
import { ScanContext } from '../../src/lib/core/experiments/scan';
import { loadModel, type LoadedModel } from '../../src/lib/core/model/index';
import type { Engine } from '../../src/lib/core/runtime/engine';
import { createNodeEngine } from '../../src/lib/core/runtime/node';
import { parsePromptFile, type PromptRecord } from '../../src/lib/core/tasks/promptFile';
import { ROOT } from '../engine/fixtures';
import { expectClose } from './helpers';

interface Card {
	n: number;
	accuracy: number;
	logprob: number;
	per_position_accuracy: number[];
	per_position_n: number[];
	per_subtask_accuracy: Record<string, number>;
	per_subtask_n: Record<string, number>;
}

describe.each(['add-3d', 'mul-2d', 'add-3d-llama'])('%s', (id) => {
	const dir = join(ROOT, 'models', id);
	const present = existsSync(join(dir, 'config.json')) && existsSync(join(dir, 'eval.json'));
	let model: LoadedModel;
	let engine: Engine;
	let records: PromptRecord[];
	let card: Card;
	beforeAll(async () => {
		if (!present) return;
		model = await loadModel(folderSource(dir));
		engine = await createNodeEngine(model);
		records = parsePromptFile(readFileSync(join(dir, 'heldout.jsonl'), 'utf8'));
		card = JSON.parse(readFileSync(join(dir, 'eval.json'), 'utf8'));
	});
	afterAll(() => engine?.dispose());

	it.skipIf(!present)('evaluates the held-out prompts as the model card says', async () => {
		const set = encodePromptSet(model.tokenizer, records);
		const ctx = new ScanContext(engine, set);
		const res = await evaluatePrompts(ctx, records);
		expect(res.n).toBe(card.n);
		// a count may differ by one prompt whose top two logits tie within float error
		expect(Math.abs(res.accuracy - card.accuracy) * card.n).toBeLessThanOrEqual(1);
		expectClose(`${id} held-out logprob`, [res.logprob], [card.logprob], 1e-4);
		res.per_position_accuracy.forEach((a, i) => expect(Math.abs(a - card.per_position_accuracy[i]) * card.per_position_n[i]).toBeLessThanOrEqual(1));
		console.log(`${id}: held-out accuracy ${res.accuracy} (card ${card.accuracy}), logprob ${res.logprob.toFixed(5)} (card ${card.logprob.toFixed(5)})`);

		if (Object.keys(card.per_subtask_n).length) {
			const report = mulSubtasks(mulDigits(set, records, model.tokenizer), (await ctx.base('clean', {})).scores);
			for (const c of report.classes) {
				expect(c.n, c.class).toBe(card.per_subtask_n[c.class]);
				expect(Math.abs(c.accuracy - card.per_subtask_accuracy[c.class]) * c.n, c.class).toBeLessThanOrEqual(1);
			}
			expect(report.classes.map((c) => c.class).sort()).toEqual(Object.keys(card.per_subtask_n).sort());
		}
	});

	it.skipIf(!present)('faithfulness of the top mean-ablation heads; the set-ablated row equals a direct engine run', async () => {
		const sample = records.slice(0, 64);
		const set = encodePromptSet(model.tokenizer, sample);
		const ctx = new ScanContext(engine, set);
		const scan = await ablationScan(ctx, { method: 'mean', mlps: false });
		const top = topHeads(rankScan({ method: 'mean', result: scan }, 'logprob').heads, { percent: 25 });
		const res = await faithfulness(ctx, { heads: top, method: 'mean', randomSets: 5, seed: 1 });
		console.log(
			`${id}: top ${top.length} heads ${top.map((h) => `L${h.layer}H${h.head}`).join(' ')}: accuracy full ${res.full.accuracy.toFixed(3)}, ` +
				`set ablated ${res.ablated.accuracy.toFixed(3)}, circuit alone ${res.circuit.accuracy.toFixed(3)}, all ablated ${res.empty.accuracy.toFixed(3)}, ` +
				`random sets ablated ${res.random.ablated.accuracy.mean.toFixed(3)} ± ${res.random.ablated.accuracy.std.toFixed(3)}; faithfulness ${res.faithfulness.toFixed(3)}`
		);
		expect(res.full.accuracy).toBe(scan.clean.accuracy);

		// direct route: pad to the longest row, mean z per position over the prompts that have it, mask the set
		const { n_layers: L, n_heads: H, d_head: dh } = model.spec;
		const lengths = set.prompts.map(sequenceLength);
		const T = Math.max(...lengths);
		const tokens = set.prompts.map((p) => [...cleanRow(p), ...new Array<number>(T - sequenceLength(p)).fill(0)]);
		const hooks = Array.from({ length: L }, (_, l) => `blocks.${l}.attn.hook_z` as const);
		const { cache } = await engine.run(tokens, { hooks });
		const N = tokens.length;
		const mask = new Float32Array(N * L * H).fill(1);
		const repl = new Float32Array(N * L * H * T * dh);
		for (const { layer, head } of top) {
			const z = cache.get(hooks[layer])!.data; // [N, T, H, dh]
			for (let t = 0; t < T; t++) {
				const have = lengths.filter((n) => n > t).length;
				const mean = new Float64Array(dh);
				for (let b = 0; b < N; b++) if (lengths[b] > t) for (let e = 0; e < dh; e++) mean[e] += z[((b * T + t) * H + head) * dh + e] / have;
				for (let b = 0; b < N; b++) repl.set(mean, (((b * L + layer) * H + head) * T + t) * dh);
			}
			for (let b = 0; b < N; b++) mask[(b * L + layer) * H + head] = 0;
		}
		const { logits } = await engine.run(tokens, { interventions: { head_mask: { data: mask, shape: [N, L, H] }, head_repl: { data: repl, shape: [N, L, H, T, dh] } } });
		const m = promptMetrics(logits, { nPrompt: set.prompts.map((p) => p.prompt.length), answers: set.prompts.map((p) => p.answer) });
		const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
		expectClose(`${id} top-heads set ablated`, [res.ablated.accuracy, res.ablated.logprob], [mean(m.accuracy), mean(m.logprob)], 1e-4);
	});
});
