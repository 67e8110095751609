// Eval and every scan on real families with real tokenizers (./make-models.ts: real configs, seeded random
// weights) against the PyTorch reference tokenizing jointly itself (models/train/reference_scans.py, float64,
// fed Hugging Face's Rust tokenizer's ids for every text it encodes), on `add:3` (100 prompts) and on a
// natural-language and a few-shot variant. The real CLI runs eval on every model and every scan method on
// GPT-2 and the SentencePiece model (plus one method each on the others, `--metric logit-diff`, and a prompt
// file with unusable counterfactuals); the other model × method pairs run through the core functions on the
// same prompts, as do the variants. ARITHLENS_REAL_CLI=all runs every add:3 pair through the CLI instead
// (about 3 minutes more). Then the case joint tokenization fixed: a SentencePiece answer scored as encoded
// alone (`▁ 4 6`) against in context (`4 6`).
//
// Tolerance 1e-4 on metric values and drops. Patching scores are ratios, so the same absolute error is
// allowed on their numerator: 1e-4 / min(1, |m_clean − m_corrupt|) as test/experiments/scans.test.ts has it.
// A path score averages (logit_patched − logit_clean) / |logit_clean| over prompts, and an error e in the
// logits moves prompt i's term by about e (1 + |score_i|) / |logit_clean,i|: the tolerance is 1e-4 times the
// largest mean of that factor over a head's prompts (from the reference's per-prompt scores), which a clean
// logit near 0 makes loose, so the core runs also compare each prompt's logit change itself to 1e-4. The
// reference's outputs are cached in the temp folder under a hash of their inputs; a cold run adds ~5 min
// of Python (the float64 unembedding of 128k-152k vocabularies).
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { folderSource } from '../../src/cli/node-source';
import { ablationScan, type AblationMethod } from '../../src/lib/core/experiments/ablation';
import { evaluatePrompts } from '../../src/lib/core/experiments/evaluate';
import { patchScan, pathPatchScan } from '../../src/lib/core/experiments/patching';
import { counterfactualSubset, encodePromptSet, promptSetOf, type EncodedPrompt, type PromptSet } from '../../src/lib/core/experiments/prompts';
import { resamplePermutation } from '../../src/lib/core/experiments/replacements';
import { ScanContext } from '../../src/lib/core/experiments/scan';
import { answerTokenTexts, loadModel, type LoadedModel } from '../../src/lib/core/model/index';
import { parseSafetensors } from '../../src/lib/core/model/safetensors';
import { maxOf, minOf } from '../../src/lib/core/model/arrays';
import type { Tensor } from '../../src/lib/core/model/tensor';
import type { Engine } from '../../src/lib/core/runtime/engine';
import { createNodeEngine } from '../../src/lib/core/runtime/node';
import { generatePrompts, parseTaskSpec, type PromptRecord } from '../../src/lib/core/tasks/index';
import { runCli, type CliResult } from '../cli/run-cli';
import { ROOT } from '../engine/fixtures';
import { expectClose } from '../experiments/helpers';
import { cachedRealModels, PYTHON, REAL_MODELS, type RealModelName } from './make-models';
import { oracle, realTokenizer } from './tokenizers';

const TOL = 1e-4;
const NAMES = Object.keys(REAL_MODELS) as RealModelName[];
const SEED = 0;
const TASK = { spec: 'add:3', n: 100 };
/** Variants run through the core functions, on fewer prompts. */
const VARIANTS = [
	{ spec: 'add:3:verbal', n: 16 },
	{ spec: 'add:3:spaced:shots=2', n: 12 }
];
type Method = AblationMethod | 'patch' | 'path';
const METHODS: readonly Method[] = ['zero', 'mean', 'resample', 'patch', 'path'];
/** The add:3 scans each model runs through the CLI; the others run through the core functions. */
const CLI_SCANS: Record<RealModelName, readonly Method[]> =
	process.env.ARITHLENS_REAL_CLI === 'all'
		? (Object.fromEntries(NAMES.map((n) => [n, METHODS])) as Record<RealModelName, readonly Method[]>)
		: { gpt2: METHODS, 'pythia-70m': ['resample'], 'llama-2-7b': METHODS, 'llama-3-8b': ['path'], 'qwen2.5-0.5b': ['mean'] };
/** `--metric logit-diff` through the CLI: an ablation on the SentencePiece model, patching on Qwen. */
const LOGIT_DIFF_CLI: Partial<Record<RealModelName, 'zero' | 'patch'>> = { 'llama-2-7b': 'zero', 'qwen2.5-0.5b': 'patch' };
/** The model whose CLI gets a prompt file in which some counterfactuals cannot line up. */
const LEFT_OUT_MODEL: RealModelName = 'gpt2';
const PREDICTS_4 = 'llama-2-7b-predicts-4';

type Records = PromptRecord[];
interface RefAblation {
	clean: Record<string, number>;
	heads: Record<string, number[][]>;
	mlps: Record<string, number[]>;
}
interface RefPatch {
	clean: Record<string, number>;
	corrupt: Record<string, number>;
	heads: Record<string, number[][]>;
}
interface RefPath {
	heads: { answer_logit_rel: number[][] };
	per_prompt: { answer_logit_rel: number[][][] };
	answer_logit: number[];
}
interface RefSet {
	eval: { accuracy: number; logprob: number; per_position_accuracy: number[]; n_prompt: number[]; answers: number[][]; correct: number[]; logprobs: number[] };
	usable: number[];
	left_out: number;
	zero?: RefAblation;
	mean?: RefAblation;
	resample?: RefAblation;
	patch?: RefPatch;
	path?: RefPath;
	alone?: { logprob: number[]; accuracy: number[]; logit_diff: (number | null)[]; answers: number[][] };
}
interface SetRequest {
	name: string;
	records: Records;
	perm: number[];
	methods: string[];
	alone?: boolean;
}
type CliRun = CliResult & { json: any };

const flat = (x: number[][] | number[]): number[] => (x as number[][]).flat();
const execFileAsync = promisify(execFile);
const seconds = (t0: number, t1 = performance.now()) => ((t1 - t0) / 1000).toFixed(1);

let folders: Record<string, string>;
let work: string;
const models = {} as Record<string, LoadedModel>;
const requests = {} as Record<string, SetRequest[]>;
const reference = {} as Record<string, Record<string, RefSet>>;

/** Records of `spec` as the CLI draws them for --task (the model's tokenizer, seed 0). */
const drawn = (name: string, spec: string, n: number): Records => generatePrompts(parseTaskSpec(spec), { n, seed: SEED, tokenizer: models[name].tokenizer });
const encoded = (name: string, records: Records): PromptSet => encodePromptSet(models[name].tokenizer, records, models[name].spec.n_ctx);

/** Prompts whose answers are all 4s (for the model that always predicts 4), with counterfactuals starting with 5. */
const FOURS: Records = [
	{ prompt: '12+32=', answer: '44', counterfactual: { prompt: '12+42=', answer: '54' } },
	{ prompt: '400+44=', answer: '444', counterfactual: { prompt: '500+44=', answer: '544' } },
	{ prompt: '22+22=', answer: '44', counterfactual: { prompt: '32+22=', answer: '54' } }
];

/** add:3 records where every 14th counterfactual changes the prompt's GPT-2 token count (816 is 8|16) and as many are dropped. */
function withUnusableCounterfactuals(model: LoadedModel, records: Records): Records {
	const count = (t: string) => model.tokenizer.encode(t).length;
	return records.map((r, i) => {
		if (i % 14 === 3) return { prompt: r.prompt, answer: r.answer, meta: r.meta };
		if (i % 14 !== 7) return r;
		const a = Number(r.prompt.split('+')[0]);
		for (let b = 100; b < 1000; b++) {
			const prompt = `${a}+${b}=`;
			if (count(prompt) !== count(r.prompt)) return { ...r, counterfactual: { prompt, answer: String(a + b) } };
		}
		throw new Error(`no counterfactual of another token count for ${r.prompt}`);
	});
}

/**
 * A copy of the llama-2-7b folder that predicts the digit `4` at every position: every embedding row gets
 * a large component along dimension 0 (so the final residual is nearly that direction whatever the input),
 * and the unembedding row of `4` a large weight on it. Teacher-forced accuracy of `44` then depends only on
 * which tokens are scored: `4 4` (in context) is all argmax, `▁ 4 4` (the answer encoded alone) is not.
 */
function predicts4Folder(src: string, four: number, out: string): string {
	if (existsSync(join(out, 'done'))) return out;
	const building = `${out}.building-${process.pid}`;
	rmSync(building, { recursive: true, force: true });
	cpSync(src, building, { recursive: true });
	const index = JSON.parse(readFileSync(join(building, 'model.safetensors.index.json'), 'utf8')).weight_map as Record<string, string>;
	const f16 = (x: number) => ({ 100: 0x5640, 5: 0x4500 })[x]!; // exact float16 bit patterns
	const edit = (tensor: string, cells: (shape: number[]) => number[], value: number) => {
		const file = join(building, index[tensor]);
		const buf = new Uint8Array(readFileSync(file));
		const t = parseSafetensors(file, buf).get(tensor)!;
		expect(t.dtype).toBe('F16');
		const view = new DataView(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength);
		for (const i of cells(t.shape)) view.setUint16(2 * i, f16(value), true);
		writeFileSync(file, buf);
	};
	edit('model.embed_tokens.weight', ([V, D]) => Array.from({ length: V }, (_, v) => v * D), 100);
	edit('lm_head.weight', ([, D]) => [four * D], 5);
	writeFileSync(join(building, 'done'), '');
	try {
		renameSync(building, out);
	} catch {
		rmSync(building, { recursive: true, force: true }); // another run finished first: identical
	}
	return out;
}

/** Hugging Face's Rust tokenizer's ids for every text the reference encodes, with and without specials. */
async function oracleIds(name: RealModelName, sets: SetRequest[]): Promise<Record<string, { special: number[]; plain: number[] }>> {
	const encode = oracle(realTokenizer(REAL_MODELS[name]).tokenizerJson);
	const texts = new Set<string>();
	for (const s of sets)
		for (const r of s.records)
			for (const ex of [r, ...(r.counterfactual?.answer !== undefined ? [r.counterfactual as { prompt: string; answer: string }] : [])])
				for (const t of [ex.prompt, ex.prompt + ex.answer, ex.answer]) texts.add(t);
	const out: Record<string, { special: number[]; plain: number[] }> = {};
	for (const t of texts) out[t] = { special: await encode(t, true), plain: await encode(t, false) };
	return out;
}

interface ReferenceJob {
	key: string;
	folder: string;
	tokenizer: RealModelName;
	sets: SetRequest[];
}

/**
 * reference_scans.py's output per job, from the cache or from one start of Python for every job not cached.
 * The key hashes the reference's code, the model folder (its name holds the hash of the weights' generator
 * and the tokenizer files) and the sets, so the oracle's ids, a function of those, are only computed for
 * the jobs that run.
 */
async function runReference(jobs: ReferenceJob[]): Promise<{ results: Record<string, Record<string, RefSet>>; ran: string[] }> {
	const code = createHash('sha256');
	for (const f of ['reference_scans.py', 'reference_logits.py', 'experiments.py', 'reference.py', 'checkpoints.py', 'safetensors_io.py']) code.update(readFileSync(join(ROOT, 'models/train', f)));
	const codeHash = code.digest('hex');
	const cache = join(tmpdir(), 'arithlens-real-scans');
	mkdirSync(cache, { recursive: true });
	const path = (j: ReferenceJob) => join(cache, `${j.key}-${createHash('sha256').update(codeHash).update(j.folder).update(JSON.stringify(j.sets)).digest('hex').slice(0, 16)}.json`);
	const missing = jobs.filter((j) => !existsSync(path(j)));
	if (missing.length) {
		const args: string[] = [];
		for (const j of missing) {
			const input = join(work, `${j.key}.request.json`);
			writeFileSync(input, JSON.stringify({ ids: await oracleIds(j.tokenizer, j.sets), sets: j.sets }));
			args.push(j.folder, input, path(j)); // each output is written by rename: never half a file
		}
		await execFileAsync(PYTHON, [join(ROOT, 'models/train/reference_scans.py'), ...args], { maxBuffer: 1 << 26 });
		// outputs of earlier inputs go once untouched for a day
		const current = new Set(jobs.map((j) => basename(path(j))));
		for (const f of readdirSync(cache)) if (!current.has(f) && Date.now() - statSync(join(cache, f)).mtimeMs > 86_400_000) rmSync(join(cache, f), { force: true });
	}
	return { results: Object.fromEntries(jobs.map((j) => [j.key, JSON.parse(readFileSync(path(j), 'utf8'))])), ran: missing.map((j) => j.key) };
}

/** Runs the jobs `width` at a time. */
async function pool(jobs: (() => Promise<void>)[], width: number): Promise<void> {
	let next = 0;
	await Promise.all(
		Array.from({ length: width }, async () => {
			while (next < jobs.length) await jobs[next++]();
		})
	);
}

interface CliJob {
	name: RealModelName;
	label: string;
	/** Arguments, read when the job starts; `afterPrompts` jobs start once the prompt sets exist. */
	args: () => string[];
	afterPrompts?: boolean;
}
const cliRuns = new Map<string, Promise<CliRun>>();
/** The CLI run of `label` on model `name`: the tests await it (the runs go on in the background). */
const cliRun = (name: RealModelName, label: string): Promise<CliRun> => cliRuns.get(`${name} ${label}`)!;
let cliFinished: Promise<void> = Promise.resolve();

/** Starts the CLI runs two at a time (two cores), beside the tests that use the core functions. */
function startCli(jobs: CliJob[], promptsReady: Promise<void>): Promise<void> {
	const settle = new Map<CliJob, { resolve(r: CliRun): void; reject(e: unknown): void }>();
	for (const job of jobs) {
		const run = new Promise<CliRun>((resolve, reject) => settle.set(job, { resolve, reject }));
		run.catch(() => {}); // reported by the test that awaits it
		cliRuns.set(`${job.name} ${job.label}`, run);
	}
	return pool(
		jobs.map((job, i) => async () => {
			try {
				if (job.afterPrompts) await promptsReady;
				const out = join(work, `cli-${i}.json`);
				const res = await runCli([...job.args(), '--json', out]);
				if (res.code !== 0) throw new Error(`${job.name} ${job.label}: exit ${res.code}: ${res.stderr}`);
				settle.get(job)!.resolve({ ...res, json: JSON.parse(readFileSync(out, 'utf8')) });
			} catch (e) {
				settle.get(job)!.reject(e);
			}
		}),
		2
	);
}

/** Every model's eval first, then the runs that need the prompt sets (ready by then), then the scans. */
function cliJobs(): CliJob[] {
	const task = (name: RealModelName) => ['--model', folders[name], '--task', TASK.spec, '--n', String(TASK.n), '--seed', String(SEED)];
	const jobs: CliJob[] = NAMES.map((name) => ({ name, label: 'eval', args: () => ['eval', ...task(name)] }));
	// the reference's permutation; a prompt file with unusable counterfactuals
	for (const name of NAMES.filter((n) => CLI_SCANS[n].includes('resample')))
		jobs.push({ name, label: 'resample', afterPrompts: true, args: () => ['scan', ...task(name), '--method', 'resample', '--perm', requests[name][0].perm.join(',')] });
	jobs.push({
		name: LEFT_OUT_MODEL,
		label: 'left-out path',
		afterPrompts: true,
		args: () => {
			const file = join(work, 'left-out.jsonl');
			writeFileSync(file, requests[LEFT_OUT_MODEL].at(-1)!.records.map((r) => JSON.stringify(r)).join('\n') + '\n');
			return ['scan', '--model', folders[LEFT_OUT_MODEL], '--prompts', file, '--method', 'path'];
		}
	});
	for (const name of NAMES) {
		for (const method of CLI_SCANS[name].filter((m) => m !== 'resample')) jobs.push({ name, label: method, args: () => ['scan', ...task(name), '--method', method] });
		const ld = LOGIT_DIFF_CLI[name];
		if (ld) jobs.push({ name, label: `${ld} logit-diff`, args: () => ['scan', ...task(name), '--method', ld, '--metric', 'logit-diff'] });
	}
	return jobs;
}

beforeAll(async () => {
	const t0 = performance.now();
	folders = { ...cachedRealModels() };
	work = mkdtempSync(join(tmpdir(), 'arithlens-real-scans-'));
	let promptsDone!: () => void;
	const promptsReady = new Promise<void>((resolve) => (promptsDone = resolve));
	const jobs = cliJobs();
	cliFinished = startCli(jobs, promptsReady).then(() => console.log(`${jobs.length} CLI runs (2 at a time) done after ${seconds(t0)} s`));

	for (const name of NAMES) models[name] = await loadModel(folderSource(folders[name]));
	const four = models['llama-2-7b'].tokenizer.encode('4', { addSpecialTokens: false }).at(-1)!;
	expect(models['llama-2-7b'].tokenizer.tokenStrings([four])).toEqual(['4']);
	folders[PREDICTS_4] = predicts4Folder(folders['llama-2-7b'], four, `${folders['llama-2-7b']}-predicts-4-v1`);
	// What the reference computes, per model: every method on add:3 and on each variant.
	for (const name of NAMES) {
		const set = (spec: string, records: Records): SetRequest => ({ name: spec, records, perm: resamplePermutation(encoded(name, records), SEED), methods: [...METHODS] });
		const task = drawn(name, TASK.spec, TASK.n);
		requests[name] = [{ ...set(TASK.spec, task), alone: name === 'llama-2-7b' }, ...VARIANTS.map(({ spec, n }) => set(spec, drawn(name, spec, n)))];
		if (name === LEFT_OUT_MODEL) requests[name].push({ name: 'left-out', records: withUnusableCounterfactuals(models[name], task), perm: [], methods: ['path'] });
	}
	requests[PREDICTS_4] = [{ name: 'fours', records: FOURS, perm: [1, 2, 0], methods: ['path'], alone: true }];
	promptsDone();
	const t1 = performance.now();
	const { results, ran } = await runReference([...NAMES, PREDICTS_4].map((key) => ({ key, folder: folders[key], tokenizer: key === PREDICTS_4 ? 'llama-2-7b' : (key as RealModelName), sets: requests[key] })));
	Object.assign(reference, results);
	console.log(`models and prompts ${seconds(t0, t1)} s, reference ${ran.length ? `run for ${ran.join(', ')} in ${seconds(t1)} s` : 'cached'}`);
}, 900_000);

afterAll(async () => {
	await cliFinished; // no run may still write into the folder
	if (work) rmSync(work, { recursive: true, force: true });
}, 600_000);


/** The CLI's head table as a flat [L, H] array (or [L] for MLPs) of one field. */
function cliHeads(json: any, field: string, L: number, H: number): number[] {
	const out = new Array(L * H).fill(NaN);
	for (const h of json.heads) out[h.layer * H + h.head] = h[field];
	return out;
}
function cliMlps(json: any, field: string, L: number): number[] {
	const out = new Array(L).fill(NaN);
	for (const m of json.mlps) out[m.layer] = m[field];
	return out;
}

const patchTol = (ref: RefPatch, metric: string) => TOL / Math.min(1, Math.abs(ref.clean[metric] - ref.corrupt[metric]));
/** TOL × max over heads of mean_i (1 + |score_i|) / |logit_clean,i| (see the file comment). */
function pathTol(ref: RefPath): number {
	const c = ref.answer_logit;
	let worst = 1;
	for (const scores of ref.per_prompt.answer_logit_rel.flat()) worst = Math.max(worst, scores.reduce((a, s, i) => a + (1 + Math.abs(s)) / Math.abs(c[i]), 0) / c.length);
	return TOL * worst;
}

type Values = Tensor | ArrayLike<number>;
/** Ablation drops per metric: heads and (zero, mean: the reference resamples heads only) MLPs. */
function expectAblation(label: string, method: AblationMethod, got: { heads: Record<string, Values>; mlps: Record<string, Values> }, want: RefAblation): void {
	for (const [metric, values] of Object.entries(got.heads)) expectClose(`${label} heads ${metric}`, values, flat(want.heads[metric]), TOL);
	if (method === 'resample') expect(want.mlps).toEqual({});
	else for (const [metric, values] of Object.entries(got.mlps)) expectClose(`${label} mlps ${metric}`, values, want.mlps[metric], TOL);
}

/** Eval numbers against the reference's, and the answer ids the set scores against the reference's joint ones. */
function expectEval(label: string, got: { accuracy: number; logprob: number; per_position_accuracy: number[]; prompts: { correct: boolean; logprob: number }[] }, set: PromptSet, want: RefSet['eval']): void {
	expect(set.prompts.map((p) => p.answer), `${label} answer ids`).toEqual(want.answers);
	expect(set.prompts.map((p) => p.prompt.length), `${label} prompt lengths`).toEqual(want.n_prompt);
	expectClose(`${label} accuracy`, [got.accuracy], [want.accuracy], TOL);
	expectClose(`${label} logprob`, [got.logprob], [want.logprob], TOL);
	expectClose(`${label} per-position accuracy`, got.per_position_accuracy, want.per_position_accuracy, TOL);
	expect(got.prompts.map((p) => (p.correct ? 1 : 0)), `${label} correct`).toEqual(want.correct);
	expectClose(`${label} per-prompt logprob`, got.prompts.map((p) => p.logprob), want.logprobs, TOL);
}

/** Every method the reference ran on the set, through the core functions on `ctx`. */
async function expectCoreScans(label: string, ctx: ScanContext, req: SetRequest, want: RefSet, methods: readonly Method[]): Promise<void> {
	// every counterfactual is usable, so the whole set patches and the ablations carry the logit diff
	expect(want.left_out).toBe(0);
	expect(counterfactualSubset(ctx.set, 'answer').kept).toEqual(want.usable);
	for (const method of methods) {
		if (method === 'patch') {
			const res = await patchScan(ctx, { mlps: false });
			for (const metric of ['logprob', 'logit_diff'] as const) expectClose(`${label} patch heads ${metric}`, res.heads[metric]!, flat(want.patch!.heads[metric]), patchTol(want.patch!, metric));
		} else if (method === 'path') {
			const res = await pathPatchScan(ctx);
			const ref = want.path!;
			expectClose(`${label} path heads`, res.heads, flat(ref.heads.answer_logit_rel), pathTol(ref));
			// per prompt, the change of the answer logit itself, undivided by clean logits near 0
			const base = (await ctx.base('clean', {})).scores.row('answer_logit');
			expectClose(`${label} path clean answer logits`, base, ref.answer_logit, TOL);
			const heads = ref.per_prompt.answer_logit_rel.flat();
			const got = heads.flatMap((_, c) => base.map((b, n) => res.table.get('answer_logit', c, n) - b));
			expectClose(`${label} path per-prompt logit changes`, got, heads.flatMap((scores) => scores.map((s, n) => s * Math.abs(ref.answer_logit[n]))), TOL);
		} else {
			const res = await ablationScan(ctx, { method, perm: req.perm });
			expect(Object.keys(res.heads!.metrics).sort()).toEqual(['accuracy', 'answer_logit', 'logit_diff', 'logprob']);
			expectAblation(`${label} ${method}`, method, { heads: res.heads!.metrics as Record<string, Tensor>, mlps: res.mlps!.metrics as Record<string, Tensor> }, want[method]!);
		}
	}
}

// Timeouts allow for a machine busy with other work (these take 1-35 s on two idle cores).
describe.each(NAMES)('%s, core functions', { timeout: 600_000 }, (name) => {
	const ref = (set = TASK.spec) => reference[name][set];
	const request = (set = TASK.spec) => requests[name].find((s) => s.name === set)!;
	let engine: Engine;
	beforeAll(async () => {
		engine = await createNodeEngine(models[name]);
	});
	afterAll(() => engine?.dispose());

	const coreMethods = METHODS.filter((m) => !CLI_SCANS[name].includes(m));
	if (coreMethods.length)
		it(`${TASK.spec}, ${TASK.n} prompts: ${coreMethods.join(', ')} (core) equal the reference`, async () => {
			const set = encoded(name, request().records);
			await expectCoreScans(`${name} ${TASK.spec}`, new ScanContext(engine, set), request(), ref(), coreMethods);
		});

	it.each(VARIANTS.map((v) => v.spec))('%s: eval and every scan (core) equal the reference', async (spec) => {
		const req = request(spec);
		const set = encoded(name, req.records);
		const ctx = new ScanContext(engine, set);
		expectEval(`${name} ${spec} eval`, await evaluatePrompts(ctx, req.records, { tokenizer: models[name].tokenizer }), set, ref(spec).eval);
		for (const p of set.prompts) expect(answerTokenTexts(models[name].tokenizer, p)[0], `${name} ${spec} prompt ${p.index}`).toMatch(/^ ?\d+$/);
		await expectCoreScans(`${name} ${spec}`, ctx, req, ref(spec), METHODS);
	});
});

/** The set arithlens scored before joint tokenization: prompt ids + tokenizer(answer) without specials. */
function answerAloneSet(model: LoadedModel, records: Records): PromptSet {
	const plain = (t: string) => model.tokenizer.encode(t, { addSpecialTokens: false });
	return promptSetOf(
		records.map((r, index): EncodedPrompt => ({
			index,
			prompt: model.tokenizer.encode(r.prompt),
			answer: plain(r.answer),
			...(r.counterfactual ? { counterfactual: model.tokenizer.encode(r.counterfactual.prompt), cfFirst: plain(r.counterfactual.answer!)[0] } : {})
		}))
	);
}

describe('SentencePiece (llama-2-7b): the answer in context, not encoded alone', { timeout: 600_000 }, () => {
	/** Clean metrics and path scores of `set` on the model in `folder`, one engine for both sets. */
	const scoredBoth = async (folder: string, sets: [PromptSet, PromptSet]) => {
		const engine = await createNodeEngine(folder === folders['llama-2-7b'] ? models['llama-2-7b'] : await loadModel(folderSource(folder)));
		const scored = async (set: PromptSet) => {
			const ctx = new ScanContext(engine, set);
			const scores = (await ctx.base('clean', {})).scores;
			return { logprob: scores.row('logprob'), accuracy: scores.row('accuracy'), logitDiff: scores.row('logit_diff'), path: (await pathPatchScan(ctx)).heads };
		};
		try {
			return [await scored(sets[0]), await scored(sets[1])];
		} finally {
			await engine.dispose();
		}
	};
	const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
	const summary = (x: { logprob: number[]; accuracy: number[]; logitDiff: number[] }) =>
		JSON.stringify({ accuracy: mean(x.accuracy), logprob: +mean(x.logprob).toFixed(4), logit_diff: +mean(x.logitDiff).toFixed(4) });

	it(`${TASK.spec} on the random model: alone scores ▁ first (another logprob, logit diff identically 0, other path scores); joint equals the reference`, async () => {
		const model = models['llama-2-7b'];
		const records = requests['llama-2-7b'][0].records;
		const alone = answerAloneSet(model, records);
		const joint = encoded('llama-2-7b', records);
		expect(alone.prompts.every((p) => model.tokenizer.tokenStrings([p.answer[0]])[0] === '▁')).toBe(true);
		expect(alone.prompts.map((p) => p.answer.slice(1))).toEqual(joint.prompts.map((p) => p.answer)); // the same digits after the ▁
		const [before, after] = await scoredBoth(folders['llama-2-7b'], [alone, joint]);
		const want = reference['llama-2-7b'][TASK.spec];
		console.log(`llama-2-7b ${TASK.spec}: answer alone ${summary(before)}, joint ${summary(after)}`);
		expect(before.logitDiff.every((d) => d === 0)).toBe(true); // logit(▁) − logit(▁)
		expect(after.logitDiff.filter((d) => Math.abs(d) > 1e-3).length).toBeGreaterThan(90);
		expect(minOf(before.logprob.map((lp, i) => Math.abs(lp - after.logprob[i]))), 'every prompt scores another logprob').toBeGreaterThan(0.1);
		expectClose('llama-2-7b joint logprob per prompt', after.logprob, want.eval.logprobs, TOL);
		expectClose('llama-2-7b alone logprob per prompt, as the reference scores the answer alone', before.logprob, want.alone!.logprob, TOL);
		expect(want.alone!.answers).toEqual(alone.prompts.map((p) => p.answer));
		expectClose('llama-2-7b joint path heads', after.path, flat(want.path!.heads.answer_logit_rel), pathTol(want.path!));
		expect(maxOf(Array.from(before.path.data, (x, i) => Math.abs(x - after.path.data[i]))), 'path scores of ▁ differ').toBeGreaterThan(1e-3);
	});

	it('a model that predicts 4: `44` is correct in context (4 4) and wrong encoded alone (▁ 4 4); joint equals the reference', async () => {
		const model = models['llama-2-7b'];
		const alone = answerAloneSet(model, FOURS);
		const joint = encoded('llama-2-7b', FOURS);
		const [before, after] = await scoredBoth(folders[PREDICTS_4], [alone, joint]);
		const want = reference[PREDICTS_4].fours;
		console.log(`llama-2-7b-predicts-4: answer alone ${summary(before)}, joint ${summary(after)}`);
		expect(after.accuracy).toEqual([1, 1, 1]);
		expect(before.accuracy).toEqual([0, 0, 0]);
		expect(minOf(after.logprob)).toBeGreaterThan(-0.01);
		expect(maxOf(before.logprob)).toBeLessThan(-10);
		expect(before.logitDiff).toEqual([0, 0, 0]);
		expect(minOf(after.logitDiff)).toBeGreaterThan(10); // logit(4) − logit(5)
		expect(want.eval.correct).toEqual([1, 1, 1]);
		expect(want.alone!.accuracy).toEqual([0, 0, 0]);
		expectClose('predicts-4 joint logprob', after.logprob, want.eval.logprobs, TOL);
		expectClose('predicts-4 alone logprob', before.logprob, want.alone!.logprob, TOL);
		expectClose('predicts-4 alone logit diff', before.logitDiff, want.alone!.logit_diff as number[], TOL);
		expectClose('predicts-4 joint path heads', after.path, flat(want.path!.heads.answer_logit_rel), pathTol(want.path!));
	});
});

// The CLI runs go on in the background while the tests above run; a test here may wait for its run.
describe.each(NAMES)('%s, CLI', { timeout: 600_000 }, (name) => {
	const L = () => models[name].spec.n_layers;
	const H = () => models[name].spec.n_heads;
	const ref = (set = TASK.spec) => reference[name][set];
	const request = (set = TASK.spec) => requests[name].find((s) => s.name === set)!;

	it(`eval --task ${TASK.spec} --n ${TASK.n} (CLI) equals the reference's joint tokenization; the first scored token holds a digit`, async () => {
		const { json } = await cliRun(name, 'eval');
		const records = request().records;
		expect(json.prompts.map((p: any) => [p.prompt, p.answer])).toEqual(records.map((r) => [r.prompt, r.answer]));
		expect(json.n).toBe(TASK.n);
		expectEval(`${name} eval`, json, encoded(name, records), ref().eval);
		for (const p of json.prompts) expect(p.answer_tokens[0], `${name} ${JSON.stringify(p.prompt)}`).toMatch(/^ ?\d+$/);
		// SentencePiece and Qwen: the space before the digits stays in the prompt, never a lone ▁ / Ġ token
		if (name === 'llama-2-7b' || name === 'qwen2.5-0.5b') for (const p of json.prompts) expect(p.answer_tokens[0]).toMatch(/^\d$/);
	});

	for (const method of METHODS.filter((m) => CLI_SCANS[name].includes(m)))
		it(`scan --task ${TASK.spec} --method ${method} (CLI) equals the reference`, async () => {
			const { json, stderr } = await cliRun(name, method);
			expect(json.provenance.n_prompts).toBe(TASK.n);
			expect(stderr).not.toMatch(/left out/); // generated counterfactuals keep the token count under this tokenizer
			const label = `${name} CLI ${method}`;
			if (method === 'patch') {
				const want = ref().patch!;
				expectClose(`${label} clean logprob`, [json.clean.logprob], [want.clean.logprob], TOL);
				expectClose(`${label} heads logprob`, cliHeads(json, 'score', L(), H()), flat(want.heads.logprob), patchTol(want, 'logprob'));
			} else if (method === 'path') {
				expect(json.provenance.metric).toBe('answer_logit_rel');
				expectClose(`${label} heads`, cliHeads(json, 'score', L(), H()), flat(ref().path!.heads.answer_logit_rel), pathTol(ref().path!));
			} else {
				const want = ref()[method]!;
				for (const metric of ['logprob', 'accuracy'] as const) expectClose(`${label} clean ${metric}`, [json.clean[metric]], [want.clean[metric]], TOL);
				expectClose(`${label} heads score`, cliHeads(json, 'score', L(), H()), flat(want.heads.logprob), TOL);
				const mlps = (field: string) => (method === 'resample' ? [] : cliMlps(json, field, L()));
				expectAblation(label, method, {
					heads: { logprob: cliHeads(json, 'logprob_drop', L(), H()), accuracy: cliHeads(json, 'accuracy_drop', L(), H()) },
					mlps: { logprob: mlps('logprob_drop'), accuracy: mlps('accuracy_drop') }
				}, want);
			}
		});

	const ld = LOGIT_DIFF_CLI[name];
	if (ld)
		it(`scan --method ${ld} --metric logit-diff (CLI) equals the reference`, async () => {
			const { json } = await cliRun(name, `${ld} logit-diff`);
			expect(json.provenance.metric).toBe('logit-diff');
			const label = `${name} CLI ${ld} logit-diff`;
			if (ld === 'zero') {
				const want = ref().zero!;
				expectClose(`${label} clean`, [json.clean.logit_diff], [want.clean.logit_diff], TOL);
				expectAblation(label, 'zero', { heads: { logit_diff: cliHeads(json, 'score', L(), H()) }, mlps: { logit_diff: cliMlps(json, 'score', L()) } }, want);
				// the first digits are compared, so it is not identically 0 as it was while ▁ was scored
				expect(maxOf(flat(want.heads.logit_diff).map(Math.abs))).toBeGreaterThan(1e-3);
			} else {
				const want = ref().patch!;
				expectClose(`${label} clean`, [json.clean.logit_diff], [want.clean.logit_diff], TOL);
				expectClose(`${label} heads`, cliHeads(json, 'score', L(), H()), flat(want.heads.logit_diff), patchTol(want, 'logit_diff'));
			}
		});

	if (name === LEFT_OUT_MODEL)
		it('scan --prompts with unusable counterfactuals --method path (CLI) says how many it left out, and scores the rest as the reference', async () => {
			const { json, stderr } = await cliRun(name, 'left-out path');
			const want = ref('left-out');
			expect(want.left_out).toBe(14); // 7 of another token count, 7 without one
			expect(stderr).toMatch(new RegExp(`--method path: ${want.left_out} of ${TASK.n} prompts have no usable counterfactual and are left out`));
			expect(json.provenance.n_prompts).toBe(TASK.n - want.left_out);
			expect(counterfactualSubset(encoded(name, request('left-out').records), 'prompt').kept).toEqual(want.usable);
			expectClose(`${name} CLI left-out path heads`, cliHeads(json, 'score', L(), H()), flat(want.path!.heads.answer_logit_rel), pathTol(want.path!));
		});

});
