// Direct logit attribution, the logit lens and head-to-head edges against the PyTorch reference
// (models/train/reference_residual.py, float64) on every fixture family (LN, LNPre, RMS, no norm;
// tied and untied unembedding; parallel and sequential residual; GQA; F16/BF16 checkpoints) and on
// the shipped models: attributions + constant = the clean logit, and every value equals the reference.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { folderSource } from '../../src/cli/node-source';
import { attributeSet, type AttributionResult } from '../../src/lib/core/experiments/attribution';
import { edgeScan, type EdgeResult } from '../../src/lib/core/experiments/edges';
import { encodePromptSet } from '../../src/lib/core/experiments/prompts';
import { ScanContext } from '../../src/lib/core/experiments/scan';
import { loadModel, type LoadedModel } from '../../src/lib/core/model/index';
import { createNodeEngine } from '../../src/lib/core/runtime/node';
import { generatePrompts, parseTaskSpec, type PromptRecord } from '../../src/lib/core/tasks';
import { ROOT } from '../engine/fixtures';
import { PYTHON } from '../real/make-models';

const FIXTURES = readdirSync(join(ROOT, 'test/fixtures/models')).filter((d) => !d.includes('.')).map((d) => `test/fixtures/models/${d}`);
const FOLDERS = [...FIXTURES, 'models/add-3d', 'models/mul-2d'];
const TASK: Record<string, string> = { 'models/mul-2d': 'mul-2d' };

interface Computed {
	model: LoadedModel;
	records: PromptRecord[];
	attribution: AttributionResult;
	edges: EdgeResult;
}

const computed = new Map<string, Computed>();
let reference: Record<string, { attribute: { positions: { index: number; n: number; logit: number; components: { name: string; logit: number; logit_diff: number | null }[]; lens: { layer: number; logprob: number; rank: number }[] }[] }; edges: RefEdges<number | null> & { per_prompt: RefEdges<(number | null)[]>; answer_logit: number[] } }>;
/** Per sender (layer, head): receivers' heads [l][h], MLPs [l], and the logits; null where none is scored. */
type RefEdges<V> = { heads: V[][][][]; mlps: V[][][]; logits: V[][] };

/**
 * How far a float32 engine's mean edge score may sit from the float64 reference's: an error e in a
 * logit moves prompt n's relative change s_n by about e (1 + |s_n|) / |logit_clean_n|, so with e ≤ 1e-5
 * the mean may move by the mean of those. Random fixtures have answer logits near 0 on some prompts.
 */
const edgeTolerance = (perPrompt: readonly (number | null)[], clean: readonly number[]) =>
	perPrompt.reduce<number>((sum, s, n) => sum + (1e-5 * (1 + Math.abs(s!))) / Math.abs(clean[n]), 0) / perPrompt.length;
const dir = mkdtempSync(join(tmpdir(), 'arithlens-residual-'));

beforeAll(async () => {
	const args: string[] = [];
	for (const folder of FOLDERS) {
		const model = await loadModel(folderSource(join(ROOT, folder)));
		const records = generatePrompts(parseTaskSpec(TASK[folder] ?? 'add:2'), { n: 10, seed: 5, tokenizer: model.tokenizer });
		const set = encodePromptSet(model.tokenizer, records, model.spec.n_ctx);
		const engine = await createNodeEngine(model);
		const attribution = await attributeSet(engine, set, { batchRows: 4 }); // several batches per length group
		const edges = await edgeScan(new ScanContext(engine, set));
		await engine.dispose();
		computed.set(folder, { model, records, attribution, edges });
		const ids: Record<string, { special: number[]; plain: number[] }> = {};
		for (const r of records)
			for (const t of [r.prompt, r.prompt + r.answer, r.counterfactual!.prompt, r.counterfactual!.prompt + r.counterfactual!.answer!])
				ids[t] = { special: model.tokenizer.encode(t), plain: model.tokenizer.encode(t, { addSpecialTokens: false }) };
		const name = folder.replace(/\W/g, '_');
		writeFileSync(join(dir, `${name}.in.json`), JSON.stringify({ ids, sets: [{ name: 'set', records, attribute: true, edges: true }] }));
		args.push(join(ROOT, folder), join(dir, `${name}.in.json`), join(dir, `${name}.out.json`));
	}
	execFileSync(PYTHON, [join(ROOT, 'models/train/reference_residual.py'), ...args], { maxBuffer: 1 << 26 });
	reference = Object.fromEntries(FOLDERS.map((f) => [f, JSON.parse(readFileSync(join(dir, `${f.replace(/\W/g, '_')}.out.json`), 'utf8')).set]));
}, 300_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.each(FOLDERS)('%s', (folder) => {
	it('components + constant equal the clean logit at every prompt and position (1e-4)', () => {
		const { attribution } = computed.get(folder)!;
		let worst = 0;
		for (const p of attribution.prompts) p.components.forEach((c, i) => (worst = Math.max(worst, Math.abs(c.reduce((a, b) => a + b, 0) - p.logit[i]))));
		console.log(`${folder}: |components + constant - logit| <= ${worst.toExponential(2)}`);
		expect(worst).toBeLessThan(1e-4);
	});

	it('attributions, logit-diff attributions and the lens equal the reference (1e-4)', () => {
		const { attribution } = computed.get(folder)!;
		const ref = reference[folder].attribute.positions;
		expect(attribution.positions.map((p) => [p.index, p.n])).toEqual(ref.map((p) => [p.index, p.n]));
		let worst = 0;
		attribution.positions.forEach((p, i) => {
			expect(p.components.map((c) => c.name)).toEqual(ref[i].components.map((c) => c.name));
			worst = Math.max(worst, Math.abs(p.logit - ref[i].logit));
			p.components.forEach((c, j) => {
				const r = ref[i].components[j];
				expect(c.logit_diff === null, `${c.name} logit_diff presence`).toBe(r.logit_diff === null);
				worst = Math.max(worst, Math.abs(c.logit - r.logit), c.logit_diff === null ? 0 : Math.abs(c.logit_diff - r.logit_diff!));
			});
			p.lens.forEach((l, k) => {
				worst = Math.max(worst, Math.abs(l.logprob - ref[i].lens[k].logprob));
				expect(l.rank, `rank at position ${i} layer ${k}`).toBe(ref[i].lens[k].rank);
			});
		});
		console.log(`${folder}: attribution and lens vs reference, max |diff| ${worst.toExponential(2)}`);
		expect(worst).toBeLessThan(1e-4);
	});

	it('edge scores equal the reference (logit error 1e-5), receivers only after their sender', () => {
		const { edges, model } = computed.get(folder)!;
		const ref = reference[folder].edges;
		const s = model.spec;
		let worst = 0; // the largest error in units of its tolerance
		for (const e of edges.edges) {
			const { layer: l, head: h } = e.sender;
			const r = e.receiver;
			const at = <V>(t: RefEdges<V>): V => (r.kind === 'logits' ? t.logits[l][h] : r.kind === 'mlp' ? t.mlps[l][h][r.layer] : t.heads[l][h][r.layer][r.head]);
			const want = at(ref);
			expect(want, `${l}.${h} -> ${JSON.stringify(r)} is a receiver in the reference`).not.toBeNull();
			worst = Math.max(worst, Math.abs(want! - e.score) / edgeTolerance(at(ref.per_prompt), ref.answer_logit));
		}
		// every receiver the reference scores is scanned here too
		const heads = ref.heads.flat(3).filter((x) => x !== null).length;
		const mlps = ref.mlps.flat(2).filter((x) => x !== null).length;
		expect(edges.edges.length).toBe(heads + mlps + s.n_layers * s.n_heads);
		console.log(`${folder}: edges vs reference, worst error ${worst.toFixed(3)} of its tolerance`);
		expect(worst).toBeLessThan(1);
	});
});
