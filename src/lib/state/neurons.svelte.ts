// The Neurons panel (DESIGN §10): the neuron lens of a full modular prompt set computed in the worker
// (per-neuron IPR, dominant frequency and power share, χ and the memorizing / generalizing counts),
// the selected neuron's grid and spectrum, pruning below χ (on release of the threshold), the pruning
// sweep, per-neuron importance, and the IPR distribution over training checkpoints beside the
// accuracy curves of training_log.json. Each with the prompt set it was measured on, progress and cancel.
import { DEFAULT_NEURON_ABLATION, GROUPS, modularLayout, NEURON_ABLATIONS, type NeuronAblation } from '$lib/core/experiments/neurons';
import type { NeuronRef } from '$lib/core/experiments/scan';
import type { PromptRecord } from '$lib/core/tasks';
import type { EngineClient } from '$lib/workers/engineClient';
import type { CheckpointIpr, NeuronGridView, NeuronImportance, NeuronsView, PruneResult, SweepPoint } from '$lib/workers/protocol';
import { Measured } from './measured.svelte';

export { DEFAULT_NEURON_ABLATION, GROUPS, NEURON_ABLATIONS };
export type { NeuronAblation, NeuronRef };
export type NeuronSort = 'ipr' | 'importance';

/** One logged step of a modular model's training_log.json (models/train/train_modular.py). */
export interface ModularLogEntry {
	step: number;
	train_clean?: number;
	train_corrupted?: number;
	train_corrupted_true?: number;
	test?: number;
}

export interface CheckpointSource {
	/** Absolute URL of the model folder. */
	base: string;
	steps: number[];
	log: ModularLogEntry[];
}

const snapshot = (prompts: PromptRecord[]) => $state.snapshot(prompts) as PromptRecord[];

export class NeuronsState {
	readonly lens = new Measured<NeuronsView>();
	readonly grid = new Measured<NeuronGridView>();
	readonly pruning = new Measured<PruneResult>();
	readonly sweep = new Measured<SweepPoint[]>();
	readonly importance = new Measured<NeuronImportance[]>();
	readonly checkpoints = new Measured<CheckpointIpr[]>();
	/** The neuron whose grid and spectrum are shown (in the URL). */
	selected = $state.raw<NeuronRef | null>(null);
	/** χ chosen by the user (in the URL); null: the lens's own (Otsu's split). */
	chosenThreshold = $state<number | null>(null);
	/** How pruning, the sweep and importance ablate a neuron (in the URL when not the default). */
	ablation = $state<NeuronAblation>(DEFAULT_NEURON_ABLATION);
	/** One block's neurons, or every block (null). */
	layer = $state<number | null>(null);
	sortBy = $state<NeuronSort>('ipr');
	/** Training checkpoints and the log of the loaded model folder, when it has them. */
	source = $state.raw<CheckpointSource | null>(null);
	/** URL of the model folder's all.jsonl (every pair with the split it was trained on), when it has one. */
	promptFile = $state<string | null>(null);

	#client: EngineClient;

	constructor(client: EngineClient) {
		this.#client = client;
	}

	/** Why the lens does not apply to `prompts` (core's NeuronLensError message), or '' when it does. */
	static unavailable(prompts: readonly PromptRecord[]): string {
		if (prompts.length === 0) return 'no prompts yet';
		try {
			modularLayout(prompts);
			return '';
		} catch (e) {
			return (e as Error).message;
		}
	}

	/** The χ in use: the user's, else the lens's. */
	get threshold(): number | null {
		return this.chosenThreshold ?? this.lens.result?.threshold.value ?? null;
	}

	/** Neurons below / at or above the χ in use (live ones). */
	get counts(): { below: number; above: number } | null {
		const r = this.lens.result;
		const chi = this.threshold;
		if (!r || chi === null) return null;
		const live = r.neurons.filter((n) => Number.isFinite(n.ipr));
		const below = live.filter((n) => n.ipr < chi).length;
		return { below, above: live.length - below };
	}

	/** The lens of `prompts`; then the selected neuron's grid and pruning at χ. */
	async compute(prompts: PromptRecord[], key: string): Promise<void> {
		[this.pruning, this.sweep, this.grid].forEach((m) => m.clear());
		const args = { prompts: snapshot(prompts), ...(this.layer !== null ? { layer: this.layer } : {}) };
		await this.lens.measure(key, (signal, onProgress) => this.#client.call('neurons', args, { signal, onProgress }));
		const r = this.lens.result;
		if (this.lens.error || !r || this.lens.key !== key) return;
		const sel = this.selected;
		if (!sel || !r.neurons.some((n) => n.layer === sel.layer && n.neuron === sel.neuron)) this.selected = this.rows()[0] ?? null;
		void this.showGrid();
		if (r.hasSplit) await this.prune();
	}

	select(layer: number, neuron: number): void {
		this.selected = { layer, neuron };
		void this.showGrid();
	}

	async showGrid(): Promise<void> {
		const sel = this.selected;
		if (!sel || !this.lens.result) return;
		await this.grid.measure(this.lens.key, () => this.#client.call('neuronGrid', { layer: sel.layer, neuron: sel.neuron }));
	}

	/** Set χ (the histogram handle was released): prune below it. */
	async setThreshold(value: number): Promise<void> {
		this.chosenThreshold = value;
		if (this.lens.result?.hasSplit) await this.prune();
	}

	/** Ablate another way: pruning is measured again, and a sweep or importance measured the old way is cleared. */
	async setAblation(ablation: NeuronAblation): Promise<void> {
		if (ablation === this.ablation) return;
		this.ablation = ablation;
		[this.sweep, this.importance].forEach((m) => m.clear());
		if (this.lens.result?.hasSplit) await this.prune();
	}

	async prune(): Promise<void> {
		const chi = this.threshold;
		if (chi === null || !Number.isFinite(chi)) return;
		const args = { threshold: chi, ablation: this.ablation };
		await this.pruning.measure(this.lens.key, (signal, onProgress) => this.#client.call('prune', args, { signal, onProgress }));
	}

	async runSweep(seed: number, steps = 16): Promise<void> {
		const args = { seed, steps, ablation: this.ablation };
		await this.sweep.measure(this.lens.key, (signal, onProgress) => this.#client.call('sweep', args, { signal, onProgress }));
	}

	async measureImportance(prompts: PromptRecord[], key: string): Promise<void> {
		const args = { prompts: snapshot(prompts), ablation: this.ablation, ...(this.layer !== null ? { layer: this.layer } : {}) };
		await this.importance.measure(key, (signal, onProgress) => this.#client.call('neuronImportance', args, { signal, onProgress }));
	}

	/** Reads train_meta.json (its checkpoint steps) and training_log.json of a model folder, if it has them. */
	async findCheckpoints(base: string | null): Promise<void> {
		[this.source, this.promptFile] = [null, null];
		if (!base) return;
		void fetch(`${base}/all.jsonl`, { method: 'HEAD' }).then((r) => r.ok && (this.promptFile = `${base}/all.jsonl`), () => undefined);
		try {
			const [meta, log] = await Promise.all([fetch(`${base}/train_meta.json`), fetch(`${base}/training_log.json`)]);
			if (!meta.ok) return;
			const steps = ((await meta.json()) as { checkpoints?: unknown }).checkpoints;
			if (!Array.isArray(steps) || !steps.every((s) => Number.isInteger(s))) return;
			const entries = log.ok ? (((await log.json()) as { log?: ModularLogEntry[] }).log ?? []) : [];
			this.source = { base, steps: steps as number[], log: entries };
		} catch {
			// no checkpoints: the panel says so
		}
	}

	async measureCheckpoints(prompts: PromptRecord[], key: string): Promise<void> {
		const src = this.source;
		const chi = this.threshold;
		if (!src || chi === null) return;
		const args = {
			prompts: snapshot(prompts),
			checkpoints: src.steps.map((step) => ({ step, url: `${src.base}/checkpoints/step-${step}` })),
			threshold: chi,
			...(this.layer !== null ? { layer: this.layer } : {})
		};
		await this.checkpoints.measure(key, (signal, onProgress) => this.#client.call('neuronCheckpoints', args, { signal, onProgress }));
	}

	/** The neuron table: by IPR (lowest first: the memorizing end) or by importance (largest drop first). */
	rows(): (NeuronsView['neurons'][number] & { importance?: number })[] {
		const r = this.lens.result;
		if (!r) return [];
		const imp = new Map((this.importance.result ?? []).map((x) => [`${x.layer}.${x.neuron}`, x.logprob_drop]));
		const rows = r.neurons.map((n) => ({ ...n, importance: imp.get(`${n.layer}.${n.neuron}`) }));
		const key = (v: number | undefined, fallback: number) => (v === undefined || !Number.isFinite(v) ? fallback : v);
		if (this.sortBy === 'importance' && imp.size) return rows.sort((a, b) => key(b.importance, -Infinity) - key(a.importance, -Infinity));
		return rows.sort((a, b) => key(a.ipr, Infinity) - key(b.ipr, Infinity) || a.layer - b.layer || a.neuron - b.neuron);
	}

	clear(): void {
		[this.lens, this.grid, this.pruning, this.sweep, this.importance, this.checkpoints].forEach((m) => m.clear());
		[this.source, this.promptFile] = [null, null];
	}
}
