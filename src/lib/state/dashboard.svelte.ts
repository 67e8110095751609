// The dashboard: one engine worker and the feature states, the order things happen in on open
// (catalog, model, accuracy, a first scan) and the view <-> URL mapping. Components never talk to
// the worker; they call these states.
import { version } from '../../../package.json';
import { EngineClient } from '$lib/workers/engineClient';
import { AttentionState } from './attention.svelte';
import { CircuitState } from './circuit.svelte';
import { FlowState } from './flow.svelte';
import { CompareState } from './compare.svelte';
import { bundledUrl, ModelState, type ModelChoice } from './model.svelte';
import { allPairs } from './modularTask';
import { NeuronsState } from './neurons.svelte';
import { PatternState } from './pattern.svelte';
import { ScanState, type ScanInputs, type ScanProvenance } from './scan.svelte';
import { SelectionState, type HeadRef } from './selection.svelte';
import { modelTaskSpec, TaskState } from './task.svelte';
import { sameModel, viewFromParams, viewToParams, type ModelRef, type View } from './viewUrl';

export class Dashboard {
	readonly client: EngineClient;
	readonly model: ModelState;
	readonly task: TaskState;
	readonly scan: ScanState;
	readonly selection: SelectionState;
	readonly pattern: PatternState;
	readonly attention: AttentionState;
	readonly circuit: CircuitState;
	readonly flow: FlowState;
	readonly compare: CompareState;
	readonly neurons: NeuronsState;
	/** URL parameters that could not be honoured, shown once. */
	ignored = $state.raw<string[]>([]);

	constructor(client = new EngineClient()) {
		this.client = client;
		this.model = new ModelState(client);
		this.task = new TaskState(() => this.model.tokenizer, { model: () => this.model.info });
		this.scan = new ScanState(client);
		this.selection = new SelectionState();
		this.pattern = new PatternState(client);
		this.attention = new AttentionState(client);
		this.circuit = new CircuitState(client);
		this.flow = new FlowState(client);
		this.compare = new CompareState(client, () => this.scan.result);
		this.neurons = new NeuronsState(client);
	}

	/** Identifies the prompt set (for results that must say which set they were measured on). */
	get promptsKey(): string {
		const t = this.task;
		return t.file ? `file:${t.file.sha256}` : `${t.spec}|${t.n}|${t.seed}`;
	}

	/** The inputs a scan run now would have. */
	get scanInputs(): ScanInputs | null {
		const info = this.model.info;
		if (!info) return null;
		const t = this.task;
		return {
			model: info.weightsSha256 ?? info.id,
			backend: info.backend,
			task: this.promptsKey,
			seed: t.seed,
			method: this.scan.method
		};
	}

	/** Provenance of a scan run now (DESIGN §7), less method and metric. */
	get provenance(): ScanProvenance | null {
		const info = this.model.info;
		if (!info) return null;
		const t = this.task;
		return {
			arithlens_version: version,
			model: { id: info.id, ...(info.revision ? { revision: info.revision } : {}), ...(info.weightsSha256 ? { weights_sha256: info.weightsSha256 } : {}) },
			...(t.file ? { prompt_file_sha256: t.file.sha256 } : { task: t.spec }),
			n_prompts: t.prompts.length,
			seed: t.seed,
			backend: info.backend
		};
	}

	get view(): View {
		return {
			model: this.model.ref,
			backend: this.model.backendChoice,
			task: this.task.file ? null : this.task.spec,
			n: this.task.n,
			seed: this.task.seed,
			method: this.scan.method,
			head: this.selection.head,
			topK: this.selection.topK,
			prompt: this.selection.prompt,
			neuron: this.neurons.selected,
			chi: this.neurons.chosenThreshold,
			prune: this.neurons.ablation
		};
	}

	urlParams(): URLSearchParams {
		return viewToParams(this.view);
	}

	/** Open the view a URL describes: load its model (or the catalog default), measure, scan. */
	async open(params: URLSearchParams): Promise<void> {
		const { view, ignored } = viewFromParams(params);
		this.ignored = ignored;
		this.model.backendChoice = view.backend;
		[this.task.n, this.task.seed, this.scan.method] = [view.n, view.seed, view.method];
		[this.selection.head, this.selection.topK, this.selection.prompt] = [view.head, view.topK, view.prompt];
		[this.neurons.selected, this.neurons.chosenThreshold, this.neurons.ablation] = [view.neuron, view.chi, view.prune];
		if (view.task) this.task.spec = view.task;
		const catalog = await this.model.loadCatalog();
		const ref: ModelRef | null = view.model ?? (catalog ? { kind: 'bundled', id: catalog.default } : null);
		if (ref) await this.switchModel(ref, { keepTask: view.task !== null, keepSelection: true });
	}

	/** Load a model; unless told otherwise, the task becomes the one it was trained on. */
	async switchModel(choice: ModelChoice, opts: { keepTask?: boolean; keepSelection?: boolean } = {}): Promise<void> {
		if (choice.kind !== 'files' && sameModel(choice, this.model.ref) && this.model.ready) return;
		this.scan.cancel();
		this.pattern.clear();
		this.attention.clear();
		this.circuit.clear();
		this.flow.clear();
		this.neurons.clear();
		if (!opts.keepSelection) this.selection.head = null;
		if (!opts.keepTask && choice.kind === 'bundled') {
			const spec = modelTaskSpec(choice.id, this.model.catalog?.models.find((m) => m.id === choice.id)?.task);
			if (spec) [this.task.spec, this.task.file] = [spec, null];
			const pairs = spec && allPairs(spec); // a modular model is read on every pair (the neuron lens needs them)
			if (pairs) this.task.n = pairs;
		}
		if (await this.model.load(choice)) {
			void this.neurons.findCheckpoints(this.modelBaseUrl);
			await this.measure();
		}
	}

	/** Load the model refused for its size anyway (the user asked), then measure as after any load. */
	async loadAnyway(): Promise<void> {
		if (await this.model.loadAnyway()) await this.measure();
	}

	/** After a model, backend or prompt-set change: accuracy, patterns of the chosen prompt, a scan. */
	async measure(): Promise<void> {
		if (!this.model.ready) return;
		await this.task.settled(); // a file or a set drawn with the new tokenizer is prepared in a worker
		const prompts = this.task.prompts;
		if (!this.model.ready || prompts.length === 0) return;
		const info = this.model.info!;
		this.selection.clamp(info.spec.n_layers, info.spec.n_heads, prompts.length);
		void this.pattern.fetch(prompts[this.selection.prompt]);
		await this.model.evaluate(prompts);
		void this.attention.fetch(prompts);
		await this.runScan();
		// one attributing forward per batch: cheap beside the scan, so the Flow panel is ready with it
		await this.flow.attribute(prompts, this.promptsKey);
		// the neuron lens: one batched capture of the p² pairs, only where the set is a full modular one
		if (!NeuronsState.unavailable(prompts)) await this.neurons.compute(prompts, this.promptsKey);
	}

	/** Use the model folder's all.jsonl (a modular model's pairs with the split it was trained on) as the prompt set. */
	async useModelPrompts(): Promise<void> {
		const url = this.neurons.promptFile;
		if (!url) return;
		try {
			const res = await fetch(url);
			if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
			await this.task.loadFile(new File([await res.blob()], 'all.jsonl'));
		} catch (e) {
			this.task.fileError = (e as Error).message;
		}
	}

	/** The folder the loaded model was read from (its checkpoints sit under it); null for hub and dropped models. */
	get modelBaseUrl(): string | null {
		const ref = this.model.ref;
		if (ref?.kind === 'bundled') return bundledUrl(ref.id);
		if (ref?.kind === 'url') return new URL(ref.url, document.baseURI).href.replace(/\/$/, '');
		return null;
	}

	/** Faithfulness of the scan's top-k heads, ablated the way the scan ablated (mean for patching scans). */
	async measureCircuit(heads: HeadRef[]): Promise<void> {
		const method = this.scan.result?.method;
		const ablation = method === 'zero' || method === 'resample' ? method : 'mean';
		await this.circuit.measureHeads(this.task.prompts, heads, ablation, this.task.seed, CircuitState.keyOf(heads, ablation, this.promptsKey));
	}

	/** Show prompt i of the set in the detail views. */
	choosePrompt(i: number): void {
		const record = this.task.prompts[i];
		if (!record) return;
		this.selection.prompt = i;
		if (this.model.ready) void this.pattern.fetch(record);
	}

	/**
	 * Reactions that outlive a single call; call once while a component initialises. A changed prompt
	 * set re-measures accuracy and the chosen prompt's patterns (cheap); a scan waits for "Run" and
	 * meanwhile its result is marked stale.
	 */
	connect(): void {
		let first = true;
		$effect(() => {
			const prompts = this.task.prompts;
			if (first) return void (first = false);
			const timer = setTimeout(() => {
				if (!this.model.ready || prompts.length === 0) return;
				this.selection.clamp(this.model.info!.spec.n_layers, this.model.info!.spec.n_heads, prompts.length);
				void this.model.evaluate(prompts);
				void this.pattern.fetch(prompts[this.selection.prompt]);
				void this.attention.fetch(prompts);
			}, 250);
			return () => clearTimeout(timer);
		});
	}

	async runScan(): Promise<void> {
		const [inputs, provenance] = [this.scanInputs, this.provenance];
		if (!inputs || !provenance || this.task.prompts.length === 0) return;
		await this.scan.run(this.task.prompts, inputs, provenance);
		// First insight: with nothing selected yet, show the most important head in the detail views.
		const best = this.scan.entries[0];
		if (!this.selection.head && best && this.scan.status === 'done') this.selection.select(best.layer, best.head);
	}

	async setBackend(choice: Parameters<ModelState['setBackend']>[0]): Promise<void> {
		this.scan.cancel();
		this.circuit.cancel();
		this.flow.clear();
		this.neurons.clear();
		if (await this.model.setBackend(choice)) {
			void this.neurons.findCheckpoints(this.modelBaseUrl);
			await this.measure();
		}
	}

	dispose(): void {
		this.scan.cancel();
		this.circuit.cancel();
		this.flow.clear();
		this.neurons.clear();
		this.task.dispose();
		this.client.dispose();
	}
}
