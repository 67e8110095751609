// The compare view (issue: close the fine-tuning loop): a second model — a fine-tuned folder, a
// training checkpoint, another bundled model of the same shape — scanned with the loaded model's
// method on the same prompts; both head maps, accuracies and faithfulness side by side, and the
// difference b − a per head and MLP from core's scanDifference, the function `arithlens scan
// --compare` writes its difference with.
import { scanDifference, type ScanDifference } from '$lib/core/export/compare';
import type { PromptRecord } from '$lib/core/tasks';
import type { EngineClient } from '$lib/workers/engineClient';
import type { CompareResult, ScanResult } from '$lib/workers/protocol';
import { Measured } from './measured.svelte';
import { sourceSpec, type Catalog } from './model.svelte';
import type { ModelRef } from './viewUrl';

/** What the second-model menu offers: bundled models and their shipped training checkpoints. */
export function compareChoices(catalog: Catalog | null): { label: string; ref: ModelRef }[] {
	return (catalog?.models ?? []).flatMap((m) => [
		{ label: m.id, ref: { kind: 'bundled', id: m.id } as ModelRef },
		...(m.checkpoints ?? []).map((c) => ({ label: `${m.id} · ${c}`, ref: { kind: 'url', url: `models/${m.id}/checkpoints/${c}` } as ModelRef }))
	]);
}

export class CompareState {
	readonly measured = new Measured<CompareResult>();
	/** The second model, as the menu or the URL field names it. */
	choice = $state.raw<ModelRef | null>(null);

	#client: EngineClient;
	#first: () => ScanResult | null;

	constructor(client: EngineClient, first: () => ScanResult | null) {
		this.#client = client;
		this.#first = first;
	}

	/** Scan the second model like the first was scanned, on the same prompts. */
	run(prompts: PromptRecord[], seed: number, topK: number, key: string): Promise<void> {
		const first = this.#first();
		const choice = this.choice;
		if (!first || !choice) return Promise.resolve();
		const args = { source: sourceSpec(choice), method: first.method, prompts: $state.snapshot(prompts) as PromptRecord[], seed, topK, first: $state.snapshot(first.entries) };
		return this.measured.measure(`${key}|${first.method}|${JSON.stringify(choice)}`, (signal, onProgress) => this.#client.call('compare', args, { signal, onProgress }));
	}

	/** b − a per head, MLP and clean metric; null until both scans exist (or when their heads differ). */
	difference = $derived.by((): ScanDifference | null => {
		const [a, b] = [this.#first(), this.measured.result?.scan];
		if (!a || !b || a.method !== b.method) return null;
		try {
			return scanDifference({ clean: a.clean, heads: a.entries, mlps: a.mlps }, { clean: b.clean, heads: b.entries, mlps: b.mlps });
		} catch {
			return null;
		}
	});

	/** [layer][head] grids of the first scan, the second and the difference, and one value per MLP. */
	maps = $derived.by(() => {
		const d = this.difference;
		const r = this.measured.result?.scan;
		if (!d || !r) return null;
		const grid = (pick: (h: ScanDifference['heads'][number]) => number) => {
			const g = Array.from({ length: r.layers }, () => new Array<number | null>(r.heads).fill(null));
			for (const h of d.heads) g[h.layer][h.head] = pick(h);
			return g;
		};
		const mlp = (pick: (m: ScanDifference['mlps'][number]) => number) => (d.mlps.length ? d.mlps.map(pick) : undefined);
		return {
			a: { heads: grid((h) => h.a), mlp: mlp((m) => m.a) },
			b: { heads: grid((h) => h.b), mlp: mlp((m) => m.b) },
			difference: { heads: grid((h) => h.difference), mlp: mlp((m) => m.difference) }
		};
	});

	/** The heads whose score moved most, largest |b − a| first. */
	largest(k: number) {
		return this.difference ? [...this.difference.heads].sort((x, y) => Math.abs(y.difference) - Math.abs(x.difference)).slice(0, k) : [];
	}

	clear(): void {
		this.measured.clear();
	}
}
