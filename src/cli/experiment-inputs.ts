// What `arithlens eval` and `arithlens scan` share: the prompt set (--prompts file or --task spec),
// the model and engine, provenance, a progress bar on stderr, and writing several outputs so that a
// failure leaves none of them behind.
import { accessSync, constants, readFileSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, isAbsolute } from 'node:path';
import { promptSetOverBudget } from '../lib/core/experiments/cost';
import { counterfactualSubset, encodePromptSet, sequenceLength, type CounterfactualNeed, type PromptSet } from '../lib/core/experiments/prompts';
import { correctRecords } from '../lib/core/experiments/evaluate';
import { ScanContext, type ScanProgress } from '../lib/core/experiments/scan';
import { makeProvenance, sha256Hex, type Provenance } from '../lib/core/export/provenance';
import { maxOf } from '../lib/core/model/arrays';
import { DEFAULT_MAX_BYTES, estimateBytes, loadModel, storedWeightBytes, type ArithTokenizer, type LoadedModel, type WeightPrecision } from '../lib/core/model/index';
import type { Engine } from '../lib/core/runtime/engine';
import { formatTaskSpec, generatePrompts, parsePromptFile, parseTaskSpec, promptFileTooLarge, type PromptRecord } from '../lib/core/tasks/index';
import { distinctProblems } from '../lib/core/tasks/generate';
import { CLI_BACKENDS, type CliBackend } from './engines';
import { InputError } from './errors';
import { MAX_MEMORY_HELP, maxMemoryBytes, resolveModelSource, weightPrecision } from './model-source';
import { writeAllAtomic } from './output';
import { stderrProgress } from './progress';

export { writeAllAtomic };

export const VERSION: string = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version;

/** Flags shared by eval and scan (node:util parseArgs options). */
export const COMMON_FLAGS = {
	model: { type: 'string', short: 'm' },
	prompts: { type: 'string', short: 'p' },
	task: { type: 'string', short: 't' },
	n: { type: 'string' },
	seed: { type: 'string' },
	revision: { type: 'string' },
	'hub-host': { type: 'string' },
	backend: { type: 'string' },
	'max-memory': { type: 'string' },
	precision: { type: 'string' },
	help: { type: 'boolean', short: 'h' }
} as const;

export const COMMON_HELP = `  -m, --model <dir|id>     model folder (Hugging Face or TransformerLens layout), or a hub id
                           (owner/name) when no such folder exists
  -p, --prompts <file>     prompt file (JSONL: {"prompt", "answer", "counterfactual"?, "meta"?} per line)
  -t, --task <spec>        generate the prompts instead: a task spec or preset (docs/tasks.md),
                           e.g. add:3, mul:2:pad:reversed, add-3d
      --n <N>              prompts to generate (default 100), or the first N of the file
      --seed <S>           seed of the generated prompts and of resampling (default 0)
      --revision <rev>     hub branch, tag or commit (hub ids only)
      --hub-host <url>     hub to download from (hub ids only)
      --backend <name>     node (onnxruntime-node, default) or wasm (onnxruntime-web)
${MAX_MEMORY_HELP}
  -h, --help               this help`;

export const DEFAULT_N = 100;

/** --only-correct: scan only the prompts the model answers correctly. */
export const ONLY_CORRECT_FLAG = { 'only-correct': { type: 'boolean' } } as const;
export const ONLY_CORRECT_HELP = `      --only-correct       keep only the prompts the model answers correctly (evaluated first)`;

/** Drops the prompts the model gets wrong from `prompts` and `loaded.set` (re-encoded). */
export async function keepCorrect(loaded: Loaded, prompts: PromptSource): Promise<void> {
	const kept = await correctRecords(new ScanContext(loaded.engine, loaded.set), prompts.records);
	if (kept.length === 0) throw new InputError('--only-correct: the model answers none of the prompts correctly');
	prompts.records = kept;
	loaded.set = encodeFor(loaded.model, kept);
}

/** The prompt set of `records` under the model's tokenizer and context (DESIGN §5). */
const encodeFor = (model: LoadedModel, records: readonly PromptRecord[]): PromptSet =>
	rethrowAsInput(() => encodePromptSet(model.tokenizer, records, model.spec.pos === 'none' ? Infinity : model.spec.n_ctx));

/**
 * Narrows `loaded.set` and `prompts` to the prompts with a usable counterfactual (patching, path
 * patching and logit diff need one): exit 2 when none has one, else a line on stderr saying how many
 * were left out and why.
 */
export function keepCounterfactuals(loaded: Loaded, prompts: PromptSource, need: CounterfactualNeed, what: string): void {
	const { kept, leftOut, reason } = counterfactualSubset(loaded.set, need);
	if (leftOut === 0) return;
	if (kept.length === 0) throw new InputError(`${what} needs a counterfactual${need === 'answer' ? ' answer' : ''} for its prompts, and none has a usable one: ${reason}`);
	process.stderr.write(`${what}: ${leftOut} of ${loaded.set.prompts.length} prompts have no usable counterfactual and are left out (first: ${reason})\n`);
	prompts.records = kept.map((i) => prompts.records[i]);
	loaded.set = encodeFor(loaded.model, prompts.records);
}

export function required(value: string | undefined, flag: string, command: string): string {
	if (value === undefined) throw new InputError(`missing --${flag} (see 'arithlens ${command} --help')`);
	return value;
}

/** What a numeric flag accepts: integers only or decimals, and its bounds (`above`: exclusive). */
export interface NumberRule {
	integer?: boolean;
	min?: number;
	above?: number;
	max?: number;
}

const INTEGER = /^-?\d+$/;
const DECIMAL = /^-?(\d+(\.\d*)?|\.\d+)$/;

/**
 * Every numeric flag of every command goes through here. Number() alone is too lenient: it reads
 * '0x10' as 16, '1e3' as 1000, '' and ' ' as 0, so a typo would silently run another experiment.
 * Only plain decimal digits (and a '.' where decimals are allowed) are accepted.
 */
export function numberFlag(value: string, flag: string, rule: NumberRule = {}): number {
	const v = Number(value);
	const ok =
		(rule.integer ? INTEGER.test(value) && Number.isSafeInteger(v) : DECIMAL.test(value) && Number.isFinite(v)) &&
		(rule.min === undefined || v >= rule.min) &&
		(rule.above === undefined || v > rule.above) &&
		(rule.max === undefined || v <= rule.max);
	if (ok) return v;
	const bounds = [rule.min !== undefined && `>= ${rule.min}`, rule.above !== undefined && `> ${rule.above}`, rule.max !== undefined && `<= ${rule.max}`].filter(Boolean);
	throw new InputError(`--${flag}: '${value}' is not ${rule.integer ? 'an integer' : 'a decimal number'}${bounds.length ? ` ${bounds.join(' and ')}` : ''}`);
}

export function intFlag(value: string | undefined, flag: string, fallback: number, min = 0): number {
	return value === undefined ? fallback : numberFlag(value, flag, { integer: true, min });
}

export interface PromptSource {
	/** The prompts; for --task, filled in by loadForExperiment once the model's tokenizer is known. */
	records: PromptRecord[];
	/** Draws the --task prompts with the model's tokenizer (counterfactuals keep its token counts). */
	generate?: (tokenizer: ArithTokenizer) => PromptRecord[];
	/** For --task: how many prompts generate draws, and one of them (to size the set before drawing it). */
	planned?: { n: number; sample: (tokenizer: ArithTokenizer) => PromptRecord };
	/** Canonical task spec of a generated set. */
	task?: string;
	promptFileSha256?: string;
	/** The prompt file's base name (provenance records no local paths). */
	promptFile?: string;
	seed: number;
	/** The set was drawn at random (the seed matters). */
	generated: boolean;
}

/** --prompts FILE or --task SPEC (exactly one), with --n and --seed. */
export async function promptSource(flags: { prompts?: string; task?: string; n?: string; seed?: string }, command: string): Promise<PromptSource> {
	if ((flags.prompts === undefined) === (flags.task === undefined))
		throw new InputError(`give exactly one of --prompts <file> or --task <spec> (see 'arithlens ${command} --help')`);
	const seed = intFlag(flags.seed, 'seed', 0);
	if (flags.task !== undefined) {
		const task = rethrowAsInput(() => parseTaskSpec(flags.task!));
		const n = intFlag(flags.n, 'n', DEFAULT_N, 1);
		// Checked here, before the model loads: generating could only fail after drawing for a while.
		const count = distinctProblems(task);
		if (n > count) throw new InputError(`--n: ${n} is more than the ${count} distinct problems of task '${formatTaskSpec(task)}'`);
		// generatePrompts' RangeErrors are about the request (too few few-shot examples...), not bugs.
		const generate = (tokenizer: ArithTokenizer) =>
			rethrowAsInput(() => {
				try {
					return generatePrompts(task, { n, seed, tokenizer });
				} catch (e) {
					throw e instanceof RangeError ? new InputError(`--task: ${e.message.replace(/^generatePrompts: /, '')}`) : e;
				}
			});
		const sample = (tokenizer: ArithTokenizer) => generatePrompts(task, { n: 1, seed, tokenizer })[0];
		return { records: [], generate, planned: { n, sample }, task: formatTaskSpec(task), seed, generated: true };
	}
	const path = flags.prompts!;
	const stat = statSync(path, { throwIfNoEntry: false });
	if (!stat?.isFile()) throw new InputError(`--prompts: no file '${path}'`);
	const tooLarge = promptFileTooLarge(path, stat.size);
	if (tooLarge) throw new InputError(`--prompts: ${tooLarge}`);
	const bytes = readFileSync(path);
	const all = rethrowAsInput(() => parsePromptFile(bytes.toString('utf8'), path));
	const n = intFlag(flags.n, 'n', all.length, 1);
	return { records: all.slice(0, n), promptFileSha256: await sha256Hex(new Uint8Array(bytes)), promptFile: basename(path), seed, generated: false };
}

/** Errors that mean "fix your input" from the core (bad spec, prompt file, counterfactual, permutation). */
const CORE_INPUT_ERRORS = new Set(['TaskSpecError', 'PromptFileError', 'PromptSetError', 'PermutationError', 'TokenizeError']);

const asInput = (e: unknown): unknown => (e instanceof Error && CORE_INPUT_ERRORS.has(e.name) ? new InputError(e.message) : e);

export function rethrowAsInput<T>(f: () => T): T {
	try {
		return f();
	} catch (e) {
		throw asInput(e);
	}
}

export async function rethrowAsInputAsync<T>(p: Promise<T>): Promise<T> {
	try {
		return await p;
	} catch (e) {
		throw asInput(e);
	}
}

/** Commands whose scans keep activations of every prompt while they run (eval scores batch by batch). */
const KEEPS_PROMPTS = new Set(['scan', 'circuit', 'subtasks']);

/** Tokens of a drawn prompt with its answer, with room for the longer prompts of a set (few-shot examples vary). */
const sampleLength = (model: LoadedModel, r: PromptRecord): number =>
	Math.ceil(1.25 * rethrowAsInput(() => sequenceLength(encodePromptSet(model.tokenizer, [r]).prompts[0])));

/** Refuses a prompt set whose kept activations, with the model, exceed the memory limit (before it is drawn, for --task). */
function checkPromptBudget(model: LoadedModel, n: number, T: number, maxBytes: number, precision: WeightPrecision | undefined, command: string): void {
	if (!KEEPS_PROMPTS.has(command)) return;
	const refusal = promptSetOverBudget(model.spec, estimateBytes(model.spec, storedWeightBytes(model.config), precision), n, T, maxBytes, command);
	if (refusal) throw new InputError(`--n: ${refusal}; use a smaller --n or raise --max-memory`);
}

export interface Loaded {
	model: LoadedModel;
	engine: Engine;
	set: PromptSet;
	backend: CliBackend;
}

/** Loads the model, encodes the prompts with its tokenizer and starts the engine; dispose the engine when done. */
export async function loadForExperiment(flags: { model?: string; revision?: string; 'hub-host'?: string; backend?: string; 'max-memory'?: string; precision?: string }, prompts: PromptSource, command: string): Promise<Loaded> {
	const modelArg = required(flags.model, 'model', command);
	const maxBytes = maxMemoryBytes(flags['max-memory']);
	const precision = weightPrecision(flags.precision);
	const backend = (flags.backend ?? 'node') as CliBackend;
	if (!Object.hasOwn(CLI_BACKENDS, backend)) throw new InputError(`--backend: '${backend}' is not one of ${Object.keys(CLI_BACKENDS).join(', ')}`);
	const { source, remote } = resolveModelSource({ model: modelArg, revision: flags.revision, hubHost: flags['hub-host'] });
	const progress = stderrProgress();
	try {
		progress.step(`loading ${source.id}${source.revision ? ` @ ${source.revision}` : ''}`);
		const model = await loadModel(source, { onProgress: remote ? progress.download : undefined, maxBytes, precision });
		const budget = (n: number, T: number) => checkPromptBudget(model, n, T, maxBytes ?? DEFAULT_MAX_BYTES, precision, command);
		if (prompts.planned) budget(prompts.planned.n, sampleLength(model, prompts.planned.sample(model.tokenizer)));
		if (prompts.generate) prompts.records = prompts.generate(model.tokenizer);
		const set = encodeFor(model, prompts.records);
		if (set.prompts.length) budget(set.prompts.length, maxOf(set.prompts.map(sequenceLength)));
		progress.step(`building the ${model.spec.family} graph on ${backend}`);
		const engine = await CLI_BACKENDS[backend](model);
		return { model, engine, set, backend };
	} finally {
		progress.done();
	}
}

/**
 * The provenance of a command's report (DESIGN §7): the model, the prompts as given, the method and
 * metric, the prompts measured and the backend. The seed is the prompt set's when it was drawn.
 */
export function reportProvenance(loaded: Pick<Loaded, 'model' | 'engine'>, prompts: PromptSource, ran: { method: string; metric: string; n: number; seed?: number | null }): Provenance {
	const { source } = loaded.model;
	return makeProvenance({
		arithlens_version: VERSION,
		model: { id: source.id, revision: source.revision, weights_sha256: source.weightsSha256 },
		task: prompts.task,
		prompt_file_sha256: prompts.promptFileSha256,
		prompt_file: prompts.promptFile,
		method: ran.method,
		metric: ran.metric,
		n_prompts: ran.n,
		seed: ran.seed !== undefined ? ran.seed : prompts.generated ? prompts.seed : null,
		backend: loaded.engine.backend
	});
}

/** A progress bar on stderr when it is a terminal: stage, bar, rows done / total, elapsed seconds. */
export function progressBar(stream: NodeJS.WriteStream = process.stderr): { update(p: ScanProgress): void; done(): void } {
	if (!stream.isTTY) return { update() {}, done() {} };
	const started = Date.now();
	let last = 0;
	let open = false;
	return {
		update({ done, total, stage }) {
			const now = Date.now();
			if (done < total && now - last < 100) return;
			last = now;
			const width = 30;
			const filled = total ? Math.round((width * done) / total) : 0;
			stream.write(`\r\x1b[K${(stage ?? '').padEnd(12)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}  ${((now - started) / 1000).toFixed(0)}s`);
			open = true;
		},
		done() {
			if (open) stream.write('\r\x1b[K');
			open = false;
		}
	};
}

/** The inputs an output must not overwrite. */
export interface InputPaths {
	prompts?: string;
	/** --model: only a local folder counts (a hub id is not a path). */
	model?: string;
	scan?: string;
}

/** Where `path` would be written: its folder's real path (symlinks resolved) and its name. */
const realOut = (path: string) => join(realpathSync(dirname(path)), basename(path));
const realIn = (path: string) => {
	try {
		return realpathSync(path);
	} catch {
		return undefined;
	}
};

/**
 * The one check of every command's output paths, before any work is done: each must be a non-empty
 * path in an existing, writable folder, not a folder itself, not named twice (--json and --csv on the
 * same file would leave one of them), and not one of the run's inputs: the prompt or scan file, or a
 * file of the local model folder (compared by real path, so ./x and a symlink to x are the same file).
 */
export function checkOutputs(outputs: Record<string, string | undefined>, inputs: InputPaths = {}): void {
	const seen = new Map<string, string>();
	const modelDir = inputs.model !== undefined && statSync(inputs.model, { throwIfNoEntry: false })?.isDirectory() ? realIn(inputs.model) : undefined;
	const namedInputs = (['prompts', 'scan'] as const).flatMap((flag) => {
		const real = inputs[flag] === undefined ? undefined : realIn(inputs[flag]!);
		return real ? [[real, flag] as const] : [];
	});
	for (const [flag, path] of Object.entries(outputs)) {
		if (path === undefined) continue;
		if (path === '') throw new InputError(`--${flag}: empty path`);
		const dir = dirname(path);
		const dirStat = statSync(dir, { throwIfNoEntry: false });
		if (!dirStat) throw new InputError(`--${flag}: no folder '${dir}'`);
		if (!dirStat.isDirectory()) throw new InputError(`--${flag}: '${dir}' is not a folder`);
		if (statSync(path, { throwIfNoEntry: false })?.isDirectory()) throw new InputError(`--${flag}: '${path}' is a folder`);
		try {
			accessSync(dir, constants.W_OK);
		} catch (e) {
			throw new InputError(`--${flag}: cannot write in folder '${dir}' (${(e as NodeJS.ErrnoException).code})`);
		}
		const real = realOut(path);
		const twice = seen.get(real);
		if (twice) throw new InputError(`--${flag}: '${path}' is the same file as --${twice}`);
		seen.set(real, flag);
		const input = namedInputs.find(([p]) => p === real);
		if (input) throw new InputError(`--${flag}: '${path}' is the --${input[1]} file; write the output elsewhere`);
		const inModel = modelDir !== undefined && !relative(modelDir, real).startsWith('..') && !isAbsolute(relative(modelDir, real));
		if (inModel && statSync(real, { throwIfNoEntry: false })) throw new InputError(`--${flag}: '${path}' is a file of the model folder '${inputs.model}'; write the output elsewhere`);
	}
}
