// What `arithlens eval` and `arithlens scan` share: the prompt set (--prompts file or --task spec),
// the model and engine, provenance, a progress bar on stderr, and writing several outputs so that a
// failure leaves none of them behind.
import { randomBytes } from 'node:crypto';
import { readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { counterfactualSubset, encodePromptSet, type CounterfactualNeed, type PromptSet } from '../lib/core/experiments/prompts';
import { correctRecords } from '../lib/core/experiments/evaluate';
import { ScanContext, type ScanProgress } from '../lib/core/experiments/scan';
import { sha256Hex } from '../lib/core/export/provenance';
import { loadModel, type ArithTokenizer, type LoadedModel } from '../lib/core/model/index';
import type { Engine } from '../lib/core/runtime/engine';
import { formatTaskSpec, generatePrompts, parsePromptFile, parseTaskSpec, type PromptRecord } from '../lib/core/tasks/index';
import { CLI_BACKENDS, type CliBackend } from './engines';
import { InputError } from './errors';
import { MAX_MEMORY_HELP, maxMemoryBytes, resolveModelSource, weightPrecision } from './model-source';
import { stderrProgress } from './progress';

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

export function intFlag(value: string | undefined, flag: string, fallback: number, min = 0): number {
	if (value === undefined) return fallback;
	const v = Number(value);
	if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(v) || v < min) throw new InputError(`--${flag}: '${value}' is not an integer >= ${min}`);
	return v;
}

export interface PromptSource {
	/** The prompts; for --task, filled in by loadForExperiment once the model's tokenizer is known. */
	records: PromptRecord[];
	/** Draws the --task prompts with the model's tokenizer (counterfactuals keep its token counts). */
	generate?: (tokenizer: ArithTokenizer) => PromptRecord[];
	/** Canonical task spec of a generated set. */
	task?: string;
	promptFileSha256?: string;
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
		const generate = (tokenizer: ArithTokenizer) => rethrowAsInput(() => generatePrompts(task, { n, seed, tokenizer }));
		return { records: [], generate, task: formatTaskSpec(task), seed, generated: true };
	}
	const path = flags.prompts!;
	if (!statSync(path, { throwIfNoEntry: false })?.isFile()) throw new InputError(`--prompts: no file '${path}'`);
	const bytes = readFileSync(path);
	const all = rethrowAsInput(() => parsePromptFile(bytes.toString('utf8'), path));
	const n = intFlag(flags.n, 'n', all.length, 1);
	return { records: all.slice(0, n), promptFileSha256: await sha256Hex(new Uint8Array(bytes)), seed, generated: false };
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
		if (prompts.generate) prompts.records = prompts.generate(model.tokenizer);
		const set = encodeFor(model, prompts.records);
		progress.step(`building the ${model.spec.family} graph on ${backend}`);
		const engine = await CLI_BACKENDS[backend](model);
		return { model, engine, set, backend };
	} finally {
		progress.done();
	}
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

/** Refuses an output path whose folder does not exist or that is a folder, before any work is done. */
export function checkOutPath(path: string | undefined, flag: string): void {
	if (path === undefined) return;
	if (!statSync(dirname(path), { throwIfNoEntry: false })?.isDirectory()) throw new InputError(`--${flag}: no folder '${dirname(path)}'`);
	if (statSync(path, { throwIfNoEntry: false })?.isDirectory()) throw new InputError(`--${flag}: '${path}' is a folder`);
}

/** Writes every file to a temporary name first and renames them only when all were written. */
export function writeAllAtomic(files: readonly { path: string; data: string }[]): void {
	const temps = files.map((f) => join(dirname(f.path), `.${basename(f.path)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`));
	try {
		files.forEach((f, i) => writeFileSync(temps[i], f.data));
		files.forEach((f, i) => renameSync(temps[i], f.path));
	} finally {
		for (const t of temps) rmSync(t, { force: true });
	}
}
