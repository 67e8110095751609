// The prompt set every measurement uses: a task spec built from operation, digits, template,
// padding and answer order, with n and seed (docs/tasks.md), or an uploaded JSONL prompt file.
// Files, and sets drawn with the model's tokenizer, are prepared in a worker with a time budget,
// and a set whose kept activations exceed the memory limit is refused as the CLI refuses it.
import { untrack } from 'svelte';
import { promptSetOverBudget } from '$lib/core/experiments/cost';
import { answerTokenTexts, DEFAULT_MAX_BYTES, estimateBytes, storedWeightBytes, tokenizeScored, type ArithTokenizer } from '$lib/core/model';
import { ABORT } from '$lib/workers/engineClient';
import type { PreparedPrompts, PromptJob } from '$lib/workers/prompts';
import { inThreadPreparer, PromptWorker, TIMEOUT, type JobTokenizer, type PromptPreparer } from '$lib/workers/promptsClient';
import type { ModelInfo } from '$lib/workers/protocol';
import { answerPositionLabels } from './labels';
import {
	formatTaskSpec,
	generatePrompts,
	parseTaskSpec,
	promptFileTooLarge,
	TASK_PRESETS,
	type PromptRecord,
	type Task
} from '$lib/core/tasks';
import { DEFAULT_VIEW, maxPrompts } from './viewUrl';

// what the task builder and the multiplication views name: the spec vocabulary, subtask classes and columns
export {
	DEFAULT_SHOT_SEPARATOR,
	MAX_SHOTS,
	NAMED_TEMPLATES,
	OP_NAMES,
	OPS,
	SUBTASK_CLASSES,
	SYMBOLIC_TEMPLATE,
	columnSubtasks,
	escapeSeparator,
	naturalAnswerWidth,
	parseTaskSpec,
	productOperands,
	unescapeSeparator,
	type Op,
	type Task
} from '$lib/core/tasks';

export interface PromptFile {
	name: string;
	sha256: string;
	records: PromptRecord[];
}

type Parsed = { task: Task; error: '' } | { task: null; error: string };

function parse(spec: string): Parsed {
	try {
		return { task: parseTaskSpec(spec), error: '' };
	} catch (e) {
		return { task: null, error: (e as Error).message };
	}
}

/** The spec a model was trained on: its preset, else the catalog's task string. */
export function modelTaskSpec(modelId: string | null, catalogTask?: string): string | null {
	return (modelId && TASK_PRESETS[modelId]) || catalogTask || null;
}

/** What the task needs of the loaded model (a ModelInfo): its shape, for the memory budget, and its tokenizer files, for the worker. */
export type TaskModel = Pick<ModelInfo, 'spec' | 'tokenizer'>;

export interface TaskOptions {
	model?: () => TaskModel | null;
	/** Where prompt sets are prepared: the prompt worker in a browser, this thread elsewhere. */
	preparer?: PromptPreparer;
	/** A preparation running longer than this is stopped with an error (a large file or an expensive tokenizer). */
	timeBudgetMs?: number;
}

export const PREPARE_TIME_BUDGET_MS = 30_000;

/**
 * The memory limit the page budgets a prompt set against: loadModel's default; for a model loaded
 * past it at the user's request, that model's estimate plus the default (else every set would be refused).
 */
export function pageMemoryLimit(modelBytes: number): number {
	return modelBytes > DEFAULT_MAX_BYTES ? modelBytes + DEFAULT_MAX_BYTES : DEFAULT_MAX_BYTES;
}

/** One preparation of the prompt set off this thread; its result lands in these fields. Cancelled when the inputs change. */
class Preparation {
	records = $state.raw<PromptRecord[]>([]);
	maxTokens = $state<number | null>(null);
	error = $state('');
	running = $state(true);
	/** Settles (never rejects) when the preparation ends, however it ends. */
	readonly done: Promise<void>;
	readonly #abort = new AbortController();

	constructor(
		readonly job: PromptJob,
		readonly tokenizer: JobTokenizer,
		preparer: PromptPreparer,
		timeoutMs: number,
		onResult: (r: PreparedPrompts) => void,
		onError: (message: string) => void
	) {
		const signal = this.#abort.signal;
		this.done = preparer.prepare(job, tokenizer, { signal, timeoutMs }).then(
			(r) => {
				if (signal.aborted) return;
				[this.records, this.maxTokens] = [r.records ?? [], r.maxTokens];
				onResult(r);
			},
			(e: Error) => {
				if (signal.aborted || e.name === ABORT) return;
				onError(e.name === TIMEOUT ? timeoutMessage(job, tokenizer, timeoutMs) : e.message);
			}
		).finally(() => (this.running = false));
	}

	/** The same job under the same tokenizer (so a re-read of the inputs keeps it running). */
	same(job: PromptJob, tokenizer: JobTokenizer): boolean {
		const a = this.job;
		const sameJob = a.kind === 'generate' && job.kind === 'generate' ? a.spec === job.spec && a.n === job.n && a.seed === job.seed : a.kind === 'file' && job.kind === 'file' && a.file === job.file;
		return sameJob && this.tokenizer.files === tokenizer.files && this.tokenizer.built === tokenizer.built;
	}

	cancel(): void {
		this.#abort.abort();
	}
}

function timeoutMessage(job: PromptJob, tokenizer: JobTokenizer, ms: number): string {
	const what = tokenizer.built || tokenizer.files ? 'tokenizing the prompt set' : 'reading the prompt file';
	return `${job.kind === 'file' ? `${job.name}: ` : ''}${what} took longer than ${ms / 1000} s`;
}

export class TaskState {
	/** The model's tokenizer, once loaded: generated counterfactuals keep its token counts. */
	readonly #tokenizer: () => ArithTokenizer | null;
	readonly #model: () => TaskModel | null;
	readonly #preparer: PromptPreparer;
	readonly #timeBudgetMs: number;
	spec = $state('add:3:eos');
	n = $state(DEFAULT_VIEW.n);
	seed = $state(DEFAULT_VIEW.seed);
	fileError = $state('');
	/** A prompt file chosen and not yet replaced: the worker reads it (again for each new tokenizer). */
	#upload = $state.raw<{ file: Blob; name: string } | null>(null);
	#file = $state.raw<PromptFile | null>(null);
	#last: Preparation | null = null;

	constructor(tokenizer: () => ArithTokenizer | null = () => null, opts: TaskOptions = {}) {
		this.#tokenizer = tokenizer;
		this.#model = opts.model ?? (() => null);
		this.#preparer = opts.preparer ?? (typeof Worker === 'undefined' ? inThreadPreparer : new PromptWorker());
		this.#timeBudgetMs = opts.timeBudgetMs ?? PREPARE_TIME_BUDGET_MS;
	}

	/** The prompt file in use; assigning one (or null) replaces any file being read. */
	get file(): PromptFile | null {
		return this.#file;
	}
	set file(file: PromptFile | null) {
		this.#cancel();
		[this.#upload, this.#file] = [null, file];
	}

	#parsed = $derived(parse(this.spec));
	#usingFile = $derived(this.#file !== null || this.#upload !== null);
	/** The parsed spec; null when it does not parse (see specError) or a prompt file is in use. */
	task = $derived(this.#usingFile ? null : this.#parsed.task);
	specError = $derived(this.#usingFile ? '' : this.#parsed.error);
	/** Most prompts n may be: MAX_PROMPTS, or every pair of a modular task (p² for split=all). */
	maxN = $derived(maxPrompts(this.#usingFile ? null : this.spec));

	/**
	 * The preparation the inputs call for: a prompt file (parsed, then measured under each new
	 * tokenizer), or a set drawn with the model's tokenizer. Null when the set is drawn here: with no
	 * tokenizer a set of at most MAX_PROMPTS is cheap.
	 */
	#job = $derived.by((): Preparation | null => {
		const upload = this.#upload;
		const files = this.#model()?.tokenizer ?? null;
		const built = this.#tokenizer();
		const tokenizer: JobTokenizer = { files, built };
		let job: PromptJob | null = null;
		if (upload) job = { kind: 'file', file: upload.file, name: upload.name, records: untrack(() => this.#file) === null };
		else if (built && !this.#file && this.#parsed.task) job = { kind: 'generate', spec: this.spec, n: this.n, seed: this.seed };
		const last = this.#last;
		if (job && last?.same(job, tokenizer)) return last;
		last?.cancel();
		if (!job) return (this.#last = null);
		// a tokenizer built here without its files (tests) cannot go to a worker
		const preparer = built && !files ? inThreadPreparer : this.#preparer;
		const onError = (message: string) => (job.kind === 'file' ? this.#fileFailed(upload!, message) : undefined);
		const onResult = (r: PreparedPrompts) => {
			if (job.kind === 'file' && r.records) this.#file = { name: job.name, sha256: r.sha256 ?? '', records: r.records };
		};
		const run = new Preparation(job, tokenizer, preparer, this.#timeBudgetMs, onResult, (message) => {
			run.error = message;
			onError(message);
		});
		return (this.#last = run);
	});

	#drawn = $derived.by((): { records: PromptRecord[]; error: string } => {
		if (this.#file) return { records: this.#file.records, error: '' };
		if (this.#upload) return { records: [], error: '' };
		const task = this.#parsed.task;
		if (!task) return { records: [], error: this.#parsed.error };
		const job = this.#job;
		if (job) return { records: job.records, error: job.error };
		try {
			return { records: generatePrompts(task, { n: this.n, seed: this.seed }), error: '' };
		} catch (e) {
			return { records: [], error: (e as Error).message };
		}
	});

	/**
	 * Why the set is refused for memory, as the CLI refuses it for a scan: its kept activations
	 * (the longest prompt's tokens, times the set's size) with the model above the page's limit.
	 */
	budgetError = $derived.by((): string => {
		const model = this.#model();
		const T = this.#job?.maxTokens;
		const n = this.#drawn.records.length;
		if (!model || T == null || n === 0) return '';
		const modelBytes = estimateBytes(model.spec, storedWeightBytes(model.tokenizer.modelConfig));
		const refusal = promptSetOverBudget(model.spec, modelBytes, n, T, pageMemoryLimit(modelBytes), 'scan');
		return refusal ? `${refusal}; use a smaller n, or fewer or shorter prompts` : '';
	});

	/** The prompt set (not proxied: read it, never mutate it); empty while it is prepared and when it is refused. */
	prompts = $derived(this.budgetError ? [] : this.#drawn.records);
	error = $derived(this.#drawn.error || this.budgetError);
	/** The worker is reading a prompt file or drawing the set with the model's tokenizer. */
	preparing = $derived(this.#job?.running ?? false);

	/** Resolves once the prompt set the inputs call for is ready (or has failed). */
	async settled(): Promise<void> {
		for (let job = this.#job; job?.running; job = this.#job) await job.done;
	}

	/** Labels of answer positions 0..P-1, by the first prompt's answer tokens under the model's tokenizer. */
	positionLabels(P: number): string[] {
		const tokenizer = this.#tokenizer();
		const first = this.prompts[0];
		let tokens: string[] | null = null;
		if (tokenizer && first) {
			try {
				tokens = answerTokenTexts(tokenizer, tokenizeScored(tokenizer, first.prompt, first.answer));
			} catch {
				tokens = null; // the prompt does not tokenize; the accuracy card shows that error
			}
		}
		// An answer prefix the tokenizer writes as its own token moved into the prompt (placeAnswerPrefix)
		const task = this.task && first && !first.answer.startsWith(this.task.answerPrefix) ? { ...this.task, answerPrefix: '' } : this.task;
		return answerPositionLabels(task, P, tokens);
	}

	/** What provenance records and the status line shows. */
	get description(): string {
		return this.file ? `${this.file.name} (${this.file.records.length} prompts)` : `${this.spec} · n=${this.n} · seed ${this.seed}`;
	}

	/** The builder: change some task fields; the spec string is rewritten canonically. */
	edit(change: Partial<Task>): void {
		const task = this.#parsed.task;
		if (!task) return;
		try {
			this.spec = formatTaskSpec({ ...task, ...change });
		} catch (e) {
			this.fileError = (e as Error).message;
		}
	}

	/** Pad operands and answer together (a spec pads both or neither). */
	setPadding(on: boolean): void {
		const task = this.#parsed.task;
		if (!task) return;
		const width = on ? Math.max(task.answerWidth, parseTaskSpec(`${task.op}:${task.digits[0]}x${task.digits[1]}:pad`).answerWidth) : 0;
		this.edit({ padOperands: on, answerWidth: width });
	}

	/** Use a prompt file: the worker parses and hashes it; resolves when it is ready or refused. */
	async loadFile(file: File): Promise<void> {
		this.fileError = '';
		const tooLarge = promptFileTooLarge(file.name, file.size);
		if (tooLarge) {
			this.fileError = tooLarge;
			return;
		}
		this.#cancel();
		[this.#file, this.#upload] = [null, { file, name: file.name }];
		await this.settled();
	}

	clearFile(): void {
		this.file = null;
		this.fileError = '';
	}

	dispose(): void {
		this.#cancel();
		if (this.#preparer instanceof PromptWorker) this.#preparer.dispose();
	}

	#cancel() {
		this.#last?.cancel();
		this.#last = null;
	}

	/** A file that did not parse (or took too long) is dropped: the builder's set is used again. */
	#fileFailed(upload: { file: Blob; name: string }, message: string) {
		if (this.#upload !== upload) return;
		this.fileError = message;
		[this.#upload, this.#file] = [null, null];
	}
}
