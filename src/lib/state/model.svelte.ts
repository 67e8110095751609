// The loaded model: where it came from, download/build progress, the backend that actually runs
// (and why, when it is not the one asked for), and its accuracy on the current prompt set.
import { createTokenizer, estimateBytes, storedWeightBytes, type ArithTokenizer } from '$lib/core/model';
import type { PromptRecord } from '$lib/core/tasks';
import type { TrainingLog } from '$lib/core/model/trainingLog';
import type { EngineClient } from '$lib/workers/engineClient';
import type { Accuracy, BackendChoice, LoadProgress, ModelInfo, ModelSourceSpec } from '$lib/workers/protocol';
import { Latest } from './latest';
import type { ModelRef } from './viewUrl';

// what the model panels name: backends to choose, training-log series and their length
export type { BackendChoice } from '$lib/workers/protocol';
export type { TrainingLogField } from '$lib/core/model/trainingLog';
export { maxOf } from '$lib/core/model/arrays';

export interface BundledModel {
	id: string;
	family: string;
	task: string;
	description: string;
	/** Training checkpoints shipped under models/<id>/checkpoints/ (the compare view offers them). */
	checkpoints?: string[];
}

export interface Catalog {
	default: string;
	models: BundledModel[];
}

/** A model to load: one the URL can name, or a folder the user dropped. */
export type ModelChoice = ModelRef | { kind: 'files'; files: { path: string; file: Blob }[]; label: string };

export type LoadStatus = 'idle' | 'loading' | 'ready' | 'error';

/** A model refused for its size: its estimated bytes (weights, onnxruntime's copy and activations) and the limit. */
export interface MemoryRefusal {
	needBytes: number;
	limitBytes: number;
}

/** The estimate and limit a load error carries (the worker passes them as fields, never in the text). */
export function memoryRefusal(e: unknown): MemoryRefusal | null {
	const { needBytes, limitBytes } = (e ?? {}) as Partial<MemoryRefusal>;
	return typeof needBytes === 'number' && typeof limitBytes === 'number' ? { needBytes, limitBytes } : null;
}

/** Bundled models live next to the page (build/models/, or /models/ in dev). */
export const bundledUrl = (id: string): string => new URL(`models/${id}/`, document.baseURI).href.replace(/\/$/, '');

function describe(choice: ModelChoice): string {
	if (choice.kind === 'bundled') return choice.id;
	if (choice.kind === 'url') return choice.url;
	if (choice.kind === 'hub') return `${choice.id}@${choice.revision}`;
	return choice.label;
}

export function sourceSpec(choice: ModelChoice): ModelSourceSpec {
	if (choice.kind === 'bundled') return { kind: 'url', url: bundledUrl(choice.id), label: choice.id };
	if (choice.kind === 'url') return { kind: 'url', url: new URL(choice.url, document.baseURI).href, label: choice.url };
	return choice;
}

export class ModelState {
	catalog = $state.raw<Catalog | null>(null);
	catalogError = $state('');
	/** The model asked for last; null for dropped files, which a link cannot name. */
	ref = $state.raw<ModelRef | null>(null);
	label = $state('');
	status = $state<LoadStatus>('idle');
	progress = $state.raw<LoadProgress | null>(null);
	info = $state.raw<ModelInfo | null>(null);
	error = $state('');
	backendChoice = $state<BackendChoice>('auto');
	switchingBackend = $state(false);
	accuracy = $state.raw<Accuracy | null>(null);
	evaluating = $state(false);
	accuracyError = $state('');
	trainingLog = $state.raw<TrainingLog | null>(null);
	/** Set when the last load was refused for its size; loadAnyway() retries with the limit raised. */
	tooLarge = $state.raw<MemoryRefusal | null>(null);
	/** The loaded model's tokenizer, built on this thread from the files the worker read (prompt generation needs it). */
	tokenizer = $state.raw<ArithTokenizer | null>(null);

	#client: EngineClient;
	#evaluation = new Latest();
	#loading = new Latest();
	#lastChoice: ModelChoice | null = null;

	constructor(client: EngineClient) {
		this.#client = client;
	}

	get ready(): boolean {
		return this.status === 'ready' && this.info !== null;
	}

	/** Estimated memory of the loaded model (weights, onnxruntime's copy and activations, as loadModel counts it). */
	get memoryBytes(): number | null {
		return this.info ? estimateBytes(this.info.spec, storedWeightBytes(this.info.tokenizer.modelConfig)) : null;
	}

	/** The catalog entry of the loaded bundled model, if it is one. */
	get bundled(): BundledModel | null {
		const ref = this.ref;
		return ref?.kind === 'bundled' ? (this.catalog?.models.find((m) => m.id === ref.id) ?? null) : null;
	}

	async loadCatalog(): Promise<Catalog | null> {
		try {
			const res = await fetch(new URL('models/index.json', document.baseURI));
			if (!res.ok) throw new Error(`models/index.json: HTTP ${res.status}`);
			this.catalog = (await res.json()) as Catalog;
		} catch (e) {
			this.catalogError = (e as Error).message;
		}
		return this.catalog;
	}

	/**
	 * Load a model and build its engine; resolves true when this load (not a later one) succeeded.
	 * maxBytes: the memory limit (default loadModel's); a model above it sets `tooLarge` instead.
	 */
	async load(choice: ModelChoice, opts: { maxBytes?: number } = {}): Promise<boolean> {
		this.#lastChoice = choice;
		this.tooLarge = null;
		this.#evaluation.cancel();
		this.ref = choice.kind === 'files' ? null : choice;
		this.label = describe(choice);
		Object.assign(this, { status: 'loading', error: '', info: null, accuracy: null, accuracyError: '', progress: null, trainingLog: null, tokenizer: null });
		let loaded = false;
		const args = { source: sourceSpec(choice), backend: this.backendChoice, maxBytes: opts.maxBytes };
		// the signal only tells this load it was superseded: a load in the worker is not cancelled
		await this.#loading.run(
			(signal) => {
				if (choice.kind === 'bundled') void this.#loadTrainingLog(choice.id, signal);
				return this.#client.call('load', args, { onProgress: (p) => !signal.aborted && (this.progress = p) });
			},
			{
				result: (info) => {
					const tokenizer = createTokenizer(info.tokenizer.json, info.tokenizer.config, info.tokenizer.modelConfig);
					Object.assign(this, { info, tokenizer, status: 'ready', progress: null });
					loaded = true;
				},
				error: (error, e) => Object.assign(this, { status: 'error', error, progress: null, tooLarge: memoryRefusal(e) })
			}
		);
		return loaded;
	}

	/** The user confirmed: load the model refused for its size again, with the limit raised to its estimate. */
	loadAnyway(): Promise<boolean> {
		const [choice, refusal] = [this.#lastChoice, this.tooLarge];
		if (!choice || !refusal) return Promise.resolve(false);
		return this.load(choice, { maxBytes: refusal.needBytes });
	}

	/** Rebuild the engine on another backend; the accuracy is measured again by the caller. */
	async setBackend(choice: BackendChoice): Promise<boolean> {
		this.backendChoice = choice;
		if (!this.ready) return false;
		this.switchingBackend = true;
		try {
			const b = await this.#client.call('setBackend', { backend: choice });
			this.info = { ...this.info!, ...b, reason: b.reason, threadsReason: b.threadsReason };
			return true;
		} catch (e) {
			this.error = (e as Error).message;
			return false;
		} finally {
			this.switchingBackend = false;
		}
	}

	async evaluate(prompts: PromptRecord[]): Promise<void> {
		this.evaluating = true;
		this.accuracyError = '';
		const args = { prompts: $state.snapshot(prompts) as PromptRecord[] };
		await this.#evaluation.run((signal) => this.#client.call('evaluate', args, { signal }), {
			result: (accuracy) => (this.accuracy = accuracy),
			error: (message) => ([this.accuracy, this.accuracyError] = [null, message]),
			settled: () => (this.evaluating = false)
		});
	}

	async #loadTrainingLog(id: string, load: AbortSignal) {
		try {
			const res = await fetch(`${bundledUrl(id)}/training_log.json`);
			if (res.ok && !load.aborted) this.trainingLog = (await res.json()) as TrainingLog;
		} catch {
			// no training log: the curves panel says so
		}
	}
}
