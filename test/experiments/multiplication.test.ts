// Multiplication subtasks through a model (tiny GPT-2 fixture model on generated mul prompts): which
// 10^i place each answer token writes (reversed and forward answers), its subtask class against
// the generator's meta, and per-digit / per-class accuracy, loss and head effects against direct
// engine runs scored with the full-logits metrics.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { folderSource } from '../../src/cli/node-source';
import { ablationScan } from '../../src/lib/core/experiments/ablation';
import { promptMetrics } from '../../src/lib/core/experiments/metrics';
import { mulDigits, mulSubtasks } from '../../src/lib/core/experiments/multiplication';
import { cleanRow, encodePromptSet } from '../../src/lib/core/experiments/prompts';
import { ScanContext } from '../../src/lib/core/experiments/scan';
import { loadModel, type LoadedModel } from '../../src/lib/core/model/index';
import type { Engine } from '../../src/lib/core/runtime/engine';
import { createNodeEngine } from '../../src/lib/core/runtime/node';
import { SUBTASK_CLASSES, productOperands } from '../../src/lib/core/tasks/subtasks';
import { generatePrompts, parseTaskSpec, type PromptRecord } from '../../src/lib/core/tasks/index';
import { readFixture } from '../engine/fixtures';
import { expectClose } from './helpers';

let model: LoadedModel;
let engine: Engine;
beforeAll(async () => {
	model = await loadModel(folderSource(readFixture('tiny-gpt2').modelDir));
	engine = await createNodeEngine(model);
});
afterAll(() => engine?.dispose());

const records = (spec: string, n = 16) => generatePrompts(parseTaskSpec(spec), { n, seed: 7 });

describe('mulDigits', () => {
	it.each([['mul:2:pad:reversed', true], ['mul:2:pad', false]] as const)('%s: places and classes of every answer digit', (spec, reversed) => {
		const recs = records(spec);
		const set = encodePromptSet(model.tokenizer, recs);
		const d = mulDigits(set, recs, model.tokenizer);
		expect(d.reversed).toBe(reversed);
		expect(d.width).toBe(4);
		expect(d.prompts).toEqual(recs.map((_, i) => i));
		for (const s of d.slots) {
			const r = recs[s.n];
			expect(s.digit).toBe(reversed ? s.slot : 3 - s.slot);
			expect(s.class).toBe((r.meta!.subtasks as string[])[s.digit]);
			const { a, b } = r.meta as { a: number; b: number };
			expect(Number(r.answer[s.slot])).toBe(Math.floor((a * b) / 10 ** s.digit) % 10);
		}
	});

	it('skips prompts that are not multiplications and refuses a set without any', () => {
		const mixed: PromptRecord[] = [...records('mul:2:pad:reversed', 3), { prompt: '12+34=', answer: '46' }];
		const set = encodePromptSet(model.tokenizer, mixed);
		expect(mulDigits(set, mixed, model.tokenizer).prompts).toEqual([0, 1, 2]);
		const add = [{ prompt: '12+34=', answer: '46' }];
		expect(() => mulDigits(encodePromptSet(model.tokenizer, add), add, model.tokenizer)).toThrow(/no prompt is a × b/);
	});
});

describe('mulSubtasks', () => {
	it('per-digit and per-class rates and head effects equal direct full-logit runs', async () => {
		const recs = records('mul:2:pad:reversed', 24);
		const set = encodePromptSet(model.tokenizer, recs);
		const ctx = new ScanContext(engine, set);
		const scan = await ablationScan(ctx, { method: 'zero', mlps: false });
		const digits = mulDigits(set, recs, model.tokenizer);
		const report = mulSubtasks(digits, scan.base, scan, 3);

		const { n_layers: L, n_heads: H } = model.spec;
		const tokens = set.prompts.map(cleanRow);
		const nPrompt = set.prompts.map((p) => p.prompt.length);
		/** Per prompt and slot: correct and log p, from full logits of a run with head (l, h) zero-ablated (or none). */
		const direct = async (ablate?: [number, number]) => {
			const mask = new Float32Array(tokens.length * L * H).fill(1);
			if (ablate) for (let b = 0; b < tokens.length; b++) mask[(b * L + ablate[0]) * H + ablate[1]] = 0;
			const { logits } = await engine.run(tokens, { interventions: { head_mask: { data: mask, shape: [tokens.length, L, H] } } });
			const correct = promptMetrics(logits, { nPrompt, answers: set.prompts.map((p) => p.answer) }).position_correct;
			const logp = [0, 1, 2, 3].map((slot) => promptMetrics(logits, { nPrompt: nPrompt.map((n) => n + slot), answers: set.prompts.map((p) => [p.answer[slot]]) }).logprob);
			return { correct, logp };
		};
		const rates = (r: Awaited<ReturnType<typeof direct>>, pick: (s: (typeof digits.slots)[number]) => boolean) => {
			const slots = digits.slots.filter(pick);
			return [slots.reduce((a, s) => a + r.correct[s.n][s.slot], 0) / slots.length, -slots.reduce((a, s) => a + r.logp[s.slot][s.n], 0) / slots.length];
		};
		const clean = await direct();
		for (const d of report.digits) expectClose(`digit ${d.digit} accuracy, loss`, [d.accuracy, d.loss], rates(clean, (s) => s.digit === d.digit), 1e-5);
		for (const c of report.classes) expectClose(`class ${c.class} accuracy, loss`, [c.accuracy, c.loss], rates(clean, (s) => s.class === c.class), 1e-5);
		expect(report.classes.reduce((a, c) => a + c.n, 0)).toBe(24 * 4);

		for (const [l, h] of [[0, 1], [1, 3]] as [number, number][]) {
			const ablated = await direct([l, h]);
			for (let digit = 0; digit < 4; digit++) {
				const [ca, cl] = rates(clean, (s) => s.digit === digit);
				const [aa, al] = rates(ablated, (s) => s.digit === digit);
				const at = (l * H + h) * 4 + digit;
				expectClose(`head ${l}.${h} digit ${digit}`, [report.heads!.digit_accuracy_drop.data[at], report.heads!.digit_loss_increase.data[at]], [ca - aa, al - cl], 1e-5);
			}
			SUBTASK_CLASSES.forEach((k, i) => {
				const got = report.heads!.class_accuracy_drop.data[(l * H + h) * SUBTASK_CLASSES.length + i];
				if (!digits.slots.some((s) => s.class === k)) return expect(got).toBeNaN();
				expectClose(`head ${l}.${h} class ${k}`, [got], [rates(clean, (s) => s.class === k)[0] - rates(ablated, (s) => s.class === k)[0]], 1e-5);
			});
		}
		for (const t of report.heads!.top) {
			expect(t.heads).toHaveLength(3);
			const drops = t.heads.map((x) => x.accuracy_drop);
			expect(drops).toEqual([...drops].sort((a, b) => b - a));
			const all = Array.from({ length: L * H }, (_, i) => report.heads!.digit_accuracy_drop.data[i * 4 + t.digit]);
			expect(drops[0]).toBe(Math.max(...all));
		}
	});
});

describe('productOperands (the subtask view and mulDigits read operands the same way)', () => {
	it("takes meta, else the numbers around the last product; another op's record has none", () => {
		expect(productOperands({ prompt: '12*34=', answer: '408', meta: { op: 'mul', a: 12, b: 34 } })).toEqual([12, 34]);
		expect(productOperands({ prompt: '7 times 8 is', answer: ' 56' })).toEqual([7, 8]);
		expect(productOperands({ prompt: '12×3=36\n45 * 67 =', answer: '3015' })).toEqual([45, 67]);
		expect(productOperands({ prompt: 'Q1: 12*34=', answer: '408' })).toEqual([12, 34]);
		expect(productOperands({ prompt: '12+34=', answer: '46', meta: { op: 'add', a: 12, b: 34 } })).toBeNull();
		expect(productOperands({ prompt: '12+34=', answer: '46' })).toBeNull();
	});
});
