// The prompt set every measurement uses: a task spec built from operation, digits, template,
// padding and answer order, with n and seed (docs/tasks.md), or an uploaded JSONL prompt file.
import { sha256Hex } from '$lib/core/export';
import { answerTokenTexts, tokenizeScored, type ArithTokenizer } from '$lib/core/model';
import { answerPositionLabels } from './labels';
import {
	formatTaskSpec,
	generatePrompts,
	parsePromptFile,
	parseTaskSpec,
	promptFileTooLarge,
	TASK_PRESETS,
	type PromptRecord,
	type Task
} from '$lib/core/tasks';
import { DEFAULT_VIEW } from './viewUrl';

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

export class TaskState {
	/** The model's tokenizer, once loaded: generated counterfactuals keep its token counts. */
	readonly #tokenizer: () => ArithTokenizer | null;
	spec = $state('add:3:eos');
	n = $state(DEFAULT_VIEW.n);
	seed = $state(DEFAULT_VIEW.seed);
	file = $state.raw<PromptFile | null>(null);
	fileError = $state('');

	constructor(tokenizer: () => ArithTokenizer | null = () => null) {
		this.#tokenizer = tokenizer;
	}

	#parsed = $derived(parse(this.spec));
	/** The parsed spec; null when it does not parse (see specError) or a prompt file is in use. */
	task = $derived(this.file ? null : this.#parsed.task);
	specError = $derived(this.file ? '' : this.#parsed.error);

	#generated = $derived.by((): { records: PromptRecord[]; error: string } => {
		if (this.file) return { records: this.file.records, error: '' };
		const task = this.#parsed.task;
		if (!task) return { records: [], error: this.#parsed.error };
		try {
			return { records: generatePrompts(task, { n: this.n, seed: this.seed, tokenizer: this.#tokenizer() ?? undefined }), error: '' };
		} catch (e) {
			return { records: [], error: (e as Error).message };
		}
	});
	/** The prompt set (not proxied: read it, never mutate it). */
	prompts = $derived(this.#generated.records);
	error = $derived(this.#generated.error);

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

	async loadFile(file: File): Promise<void> {
		this.fileError = '';
		const tooLarge = promptFileTooLarge(file.name, file.size);
		if (tooLarge) {
			this.fileError = tooLarge;
			return;
		}
		try {
			const bytes = new Uint8Array(await file.arrayBuffer());
			const records = parsePromptFile(new TextDecoder().decode(bytes), file.name);
			this.file = { name: file.name, sha256: await sha256Hex(bytes), records };
		} catch (e) {
			this.fileError = (e as Error).message;
		}
	}

	clearFile(): void {
		this.file = null;
		this.fileError = '';
	}
}
