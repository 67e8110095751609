// The neuron lens (DESIGN §10) against the PyTorch/numpy reference (models/train/reference_neurons.py,
// float64): on a tiny seeded one-layer modular model (models/train/make_modular_fixture.py, p = 11,
// random weights fitted briefly to the train rows of prompts from the TS generator) and on the shipped
// models/mod-97 (its all.jsonl) when its folder is there: every neuron's IPR (1e-4), its dominant pair and power share where the pair is not near a tie, dead neurons
// on both sides, and the pruned accuracies of the sets the TS lens chose — below the Otsu threshold and a
// few points of the sweep in both orders, zero and mean ablation — as the same counts of correct rows.
// The TS sets travel to the reference explicitly, so the seeded random order needs no Python port.
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { folderSource } from '../../src/cli/node-source';
import { byIpr, GROUPS, modularLayout, neuronLens, PruneScorer, pruneBelow, pruneSweep, type GroupScores, type NeuronLensResult } from '../../src/lib/core/experiments/neurons';
import type { NeuronRef } from '../../src/lib/core/experiments/scan';
import { encodePromptSet } from '../../src/lib/core/experiments/prompts';
import { ScanContext } from '../../src/lib/core/experiments/scan';
import { loadModel } from '../../src/lib/core/model/index';
import { createNodeEngine } from '../../src/lib/core/runtime/node';
import { createRng, generatePrompts, parsePromptFile, parseTaskSpec, type PromptRecord } from '../../src/lib/core/tasks';
import { ROOT } from '../engine/fixtures';
import { PYTHON } from '../real/make-models';
import { tempDir } from '../tempDir';

// ARITHLENS_MOD97 points the second part at another folder of that kind (a stand-in, or a checkpoint)
const MOD97 = process.env.ARITHLENS_MOD97 ?? join(ROOT, 'models/mod-97');
const HAS_MOD97 = ['config.json', 'model.safetensors', 'tokenizer.json', 'all.jsonl'].every((f) => existsSync(join(MOD97, f)));
const ABLATIONS = ['zero', 'mean'] as const;
type Ablation = (typeof ABLATIONS)[number];
/** A dominant pair this far (in power share) from the runner-up is no near-tie, so both sides must pick it. */
const TIE_MARGIN = 1e-3;

interface RefNeuron {
	layer: number;
	neuron: number;
	ipr: number | null;
	freq: [number, number];
	power_share: number | null;
	runner_up_share: number | null;
}
type RefGroups = Record<string, number | null> & { counts: Record<string, number> };

interface Case {
	name: string;
	lens: NeuronLensResult;
	/** Per ablation: the sets scored and the TS group scores of each. */
	scored: Partial<Record<Ablation, { label: string; set: NeuronRef[]; groups: GroupScores }[]>>;
	ref: { neurons: RefNeuron[]; groups: Partial<Record<Ablation, RefGroups[]>> };
	ms: { ts: number; ref: Partial<Record<Ablation, number>> };
}

/**
 * One ablation's sets: pruneBelow at the Otsu threshold, then pruneSweep at `steps` points, or (`points`)
 * only the sweep's sets at those fractions of the live neurons in both orders, scored by the same
 * PruneScorer.score call pruneSweep makes, for a large model where the sweep's ends (k = 0, all) would only
 * repeat work.
 */
interface Plan {
	ablation: Ablation;
	steps?: number;
	points?: number[];
}

const cases = new Map<string, Case>();
const execFileAsync = promisify(execFile);

/**
 * The TS lens and the plans' pruned sets, each plan's reference job started as soon as its sets are
 * known (so Python scores one ablation while the engine runs the next); the first job also computes the
 * reference's grids and spectra.
 */
async function runCase(name: string, folder: string, records: PromptRecord[], plans: Plan[], dir: string): Promise<Case> {
	const t0 = Date.now();
	const model = await loadModel(folderSource(folder));
	const set = encodePromptSet(model.tokenizer, records, model.spec.n_ctx);
	const layout = modularLayout(records);
	const ids: Record<string, { special: number[]; plain: number[] }> = {};
	for (const r of records)
		for (const t of [r.prompt, r.prompt + r.answer, r.prompt + (r.meta as { true_answer: string }).true_answer])
			ids[t] = { special: model.tokenizer.encode(t), plain: model.tokenizer.encode(t, { addSpecialTokens: false }) };
	const c: Case = { name, lens: undefined as unknown as NeuronLensResult, scored: {}, ref: { neurons: [], groups: {} }, ms: { ts: 0, ref: {} } };
	const jobs: Promise<void>[] = [];
	const engine = await createNodeEngine(model);
	try {
		const lens = (c.lens = await neuronLens(engine, set, layout));
		const ctx = new ScanContext(engine, set);
		// the sweep's sets, rebuilt as pruneSweep builds them (seed 0)
		const order = byIpr(lens.neurons);
		const random = createRng(0).shuffle([...order]);
		for (const [j, { ablation, steps = 0, points = [] }] of plans.entries()) {
			const scorer = new PruneScorer(ctx, layout, model.tokenizer, records, ablation);
			const prune = await pruneBelow(scorer, lens.neurons, lens.threshold.value);
			const scored = [
				{ label: 'unpruned', set: [], groups: prune.before },
				{ label: `below χ = ${lens.threshold.value.toPrecision(4)} (${prune.pruned.length})`, set: prune.pruned, groups: prune.after }
			];
			if (steps > 0) {
				const sweep = await pruneSweep(scorer, lens.neurons, { steps, seed: 0 });
				const ks = [...new Set(Array.from({ length: steps + 1 }, (_, i) => Math.round((i * order.length) / steps)))];
				expect(sweep.map((pt) => [pt.order, pt.k])).toEqual([...ks.map((k) => ['ipr', k]), ...ks.map((k) => ['random', k])]);
				for (const pt of sweep) scored.push({ label: `sweep ${pt.order} k=${pt.k}`, set: (pt.order === 'ipr' ? order : random).slice(0, pt.k), groups: pt.groups });
			}
			if (points.length) {
				const sets = points.flatMap((f) => [order, random].map((o) => o.slice(0, Math.round(f * order.length))));
				const groups = await scorer.score(sets);
				sets.forEach((set, i) => scored.push({ label: `${i % 2 ? 'random' : 'ipr'} k=${set.length}`, set, groups: groups[i] }));
			}
			c.scored[ablation] = scored;
			const input = join(dir, `${name}.${ablation}.in.json`);
			const output = join(dir, `${name}.${ablation}.out.json`);
			writeFileSync(input, JSON.stringify({ ids, records, r: 2, ablation, lens: j === 0, sets: scored.map((s) => s.set.map((n) => [n.layer, n.neuron])) }));
			const started = Date.now();
			jobs.push(
				execFileAsync(PYTHON, [join(ROOT, 'models/train/reference_neurons.py'), folder, input, output], { maxBuffer: 1 << 26 }).then(() => {
					c.ms.ref[ablation] = Date.now() - started;
					const out = JSON.parse(readFileSync(output, 'utf8'));
					if (j === 0) c.ref.neurons = out.neurons;
					c.ref.groups[ablation] = out.groups;
				})
			);
		}
	} finally {
		await engine.dispose();
		c.ms.ts = Date.now() - t0;
		await Promise.allSettled(jobs);
	}
	await Promise.all(jobs); // a failed reference job fails here, with its stderr
	return c;
}

function compareLens(c: Case) {
	const { lens, ref } = c;
	expect(lens.neurons.map((n) => [n.layer, n.neuron])).toEqual(ref.neurons.map((n) => [n.layer, n.neuron]));
	let iprDiff = 0;
	let shareDiff = 0;
	let compared = 0;
	const nearTies: string[] = [];
	lens.neurons.forEach((n, i) => {
		const r = ref.neurons[i];
		const at = `L${n.layer}N${n.neuron}`;
		expect(Number.isNaN(n.ipr), `${at} dead on both sides`).toBe(r.ipr === null);
		if (r.ipr === null) return;
		iprDiff = Math.max(iprDiff, Math.abs(n.ipr - r.ipr));
		if (r.power_share! - r.runner_up_share! < TIE_MARGIN) return void nearTies.push(at);
		expect(n.freq, `${at} dominant pair`).toEqual(r.freq);
		shareDiff = Math.max(shareDiff, Math.abs(n.power_share - r.power_share!));
		compared++;
	});
	const dead = ref.neurons.filter((n) => n.ipr === null).length;
	console.log(`${c.name}: ${lens.neurons.length} neurons (${dead} dead), max |ΔIPR| ${iprDiff.toExponential(2)}, dominant pair equal on ${compared} (${nearTies.length} near-ties skipped), max |Δshare| ${shareDiff.toExponential(2)}; χ ${lens.threshold.value.toPrecision(4)}; TS ${c.ms.ts} ms (lens and pruning), reference jobs ${JSON.stringify(c.ms.ref)} ms`);
	expect(iprDiff).toBeLessThan(1e-4);
	expect(shareDiff).toBeLessThan(1e-4);
	expect(compared).toBeGreaterThan(0);
}

function compareGroups(c: Case, ablation: Ablation) {
	const ts = c.scored[ablation]!;
	const ref = c.ref.groups[ablation]!;
	expect(ref.length).toBe(ts.length);
	const rows: string[] = [];
	ts.forEach(({ label, groups }, i) => {
		const want = ref[i];
		for (const g of ['all', ...GROUPS] as const) {
			const got = groups[g];
			if (want[g] === null || want[g] === undefined) {
				expect(got, `${label} ${g} empty on both sides`).toBeUndefined();
				continue;
			}
			expect(got, `${label} ${g} scored`).toBeDefined();
			expect(Math.round(got!.accuracy * got!.n), `${ablation} ${label}: correct rows of ${g}`).toBe(want.counts[g]);
		}
		rows.push(`${label}: ${GROUPS.map((g) => `${g} ${want.counts[g]}`).join(' ')}`);
	});
	console.log(`${c.name} ${ablation}: ${ts.length} sets equal\n  ${rows.join('\n  ')}`);
}

describe('tiny random modular model (p = 11)', () => {
	const dir = tempDir('arithlens-neurons-');
	const folder = join(dir, 'model');
	beforeAll(async () => {
		const records = generatePrompts(parseTaskSpec('add:p11:xi=0.2'), { n: 121, seed: 1 });
		mkdirSync(folder);
		writeFileSync(join(folder, 'all.jsonl'), records.map((r) => JSON.stringify(r) + '\n').join(''));
		// random weights fitted briefly to the train rows (corrupted labels too), so pruning moves the accuracies
		execFileSync(PYTHON, [join(ROOT, 'models/train/make_modular_fixture.py'), folder, '--p', '11', '--seed', '0', '--fit', join(folder, 'all.jsonl')]);
		const plans: Plan[] = ABLATIONS.map((ablation) => ({ ablation, steps: 8 }));
		cases.set('fixture', await runCase('fixture', folder, parsePromptFile(readFileSync(join(folder, 'all.jsonl'), 'utf8')), plans, dir));
	}, 120_000);

	it('IPR, dominant pair and power share equal the reference', () => compareLens(cases.get('fixture')!));
	it.each(ABLATIONS)('pruned accuracies (%s ablation) equal the reference, row for row', (a) => compareGroups(cases.get('fixture')!, a));
});

describe.skipIf(!HAS_MOD97)('models/mod-97', () => {
	const dir = tempDir('arithlens-neurons-97-');
	beforeAll(async () => {
		const records = parsePromptFile(readFileSync(join(MOD97, 'all.jsonl'), 'utf8'));
		// few sets (9409 prompts × 2048 neurons): both ablations below χ, and with zero ablation the sweep's
		// sets at half the live neurons in both orders (the fixture runs pruneSweep itself, both ablations);
		// mean first, so its reference job (with the grids and spectra) runs while the engine does the rest
		const plans: Plan[] = [{ ablation: 'mean' }, { ablation: 'zero', points: [0.5] }];
		cases.set('mod-97', await runCase('mod-97', MOD97, records, plans, dir));
	}, 300_000);

	it('IPR, dominant pair and power share equal the reference', () => compareLens(cases.get('mod-97')!));
	it.each(ABLATIONS)('pruned accuracies (%s ablation) equal the reference, row for row', (a) => compareGroups(cases.get('mod-97')!, a));
});

if (!HAS_MOD97) console.warn('test/neurons/reference.test.ts: models/mod-97 is not there (config.json, model.safetensors, tokenizer.json, all.jsonl); its comparison is skipped');
