// The dashboard's view as URL search parameters, so a link reproduces it: which model (bundled id,
// served folder URL or hub id@revision), backend, task spec, n, seed, scan method, selected head,
// top-k, the chosen prompt, and the Neurons panel's neuron, χ and ablation. Parsing is lenient: a bad value is dropped (and reported), never fatal.
import type { HeadRef } from '$lib/core/model/spec';
import type { BackendChoice, ScanMethod } from '$lib/workers/protocol';
import { SCAN_METHODS } from '$lib/workers/protocol';
import { parseTaskSpec } from '$lib/core/tasks/taskSpec';
import { distinctProblems } from '$lib/core/tasks/generate';
import { DEFAULT_NEURON_ABLATION, NEURON_ABLATIONS, type NeuronAblation } from '$lib/core/experiments/neurons';

/** A model the URL can name. Dropped local files cannot be linked to. */
export type ModelRef =
	| { kind: 'bundled'; id: string }
	| { kind: 'url'; url: string }
	| { kind: 'hub'; id: string; revision: string };

export interface View {
	model: ModelRef | null;
	backend: BackendChoice;
	task: string | null;
	n: number;
	seed: number;
	method: ScanMethod;
	head: HeadRef | null;
	topK: number;
	prompt: number;
	/** The Neurons panel's selected MLP neuron. */
	neuron: { layer: number; neuron: number } | null;
	/** The Neurons panel's IPR threshold χ; null: the lens's own (Otsu's split). */
	chi: number | null;
	/** How the Neurons panel ablates pruned neurons. */
	prune: NeuronAblation;
}

export const DEFAULT_VIEW: View = {
	model: null,
	backend: 'auto',
	task: null,
	n: 100,
	seed: 0,
	method: 'mean',
	head: null,
	topK: 5,
	prompt: 0,
	neuron: null,
	chi: null,
	prune: DEFAULT_NEURON_ABLATION
};

export const MAX_PROMPTS = 2000;
/** Longest parameter value read from a link (a model URL is the longest legitimate one). */
export const MAX_PARAM_LENGTH = 2048;
/** Longest task spec read from a link; a custom template is a short prompt line. */
export const MAX_TASK_LENGTH = 512;
/** Most layers / heads a `head=` parameter may name. */
const MAX_HEAD_INDEX = 4096;
/** Most neurons per layer a `neuron=` parameter may name. */
const MAX_NEURON_INDEX = 1 << 20;
const BACKENDS: readonly BackendChoice[] = ['auto', 'webgpu', 'wasm'];

export function modelRefToParam(ref: ModelRef): string {
	if (ref.kind === 'bundled') return ref.id;
	if (ref.kind === 'url') return `url:${ref.url}`;
	return `hub:${ref.id}@${ref.revision}`;
}

export function modelRefFromParam(text: string): ModelRef | null {
	if (text.startsWith('url:')) return text.length > 4 ? { kind: 'url', url: text.slice(4) } : null;
	if (text.startsWith('hub:')) {
		const m = /^hub:([\w.-]+(?:\/[\w.-]+)?)(?:@(.+))?$/.exec(text);
		return m ? { kind: 'hub', id: m[1], revision: m[2] ?? 'main' } : null;
	}
	return /^[\w.-]+$/.test(text) ? { kind: 'bundled', id: text } : null;
}

export function sameModel(a: ModelRef | null, b: ModelRef | null): boolean {
	return (a && modelRefToParam(a)) === (b && modelRefToParam(b));
}

/** Only values that differ from the defaults are written, so links stay short. */
export function viewToParams(view: View): URLSearchParams {
	const p = new URLSearchParams();
	if (view.model) p.set('model', modelRefToParam(view.model));
	if (view.backend !== DEFAULT_VIEW.backend) p.set('backend', view.backend);
	if (view.task) p.set('task', view.task);
	if (view.n !== DEFAULT_VIEW.n) p.set('n', String(view.n));
	if (view.seed !== DEFAULT_VIEW.seed) p.set('seed', String(view.seed));
	if (view.method !== DEFAULT_VIEW.method) p.set('method', view.method);
	if (view.head) p.set('head', `${view.head.layer}.${view.head.head}`);
	if (view.topK !== DEFAULT_VIEW.topK) p.set('k', String(view.topK));
	if (view.prompt !== DEFAULT_VIEW.prompt) p.set('prompt', String(view.prompt));
	if (view.neuron) p.set('neuron', `${view.neuron.layer}.${view.neuron.neuron}`);
	if (view.chi !== null) p.set('chi', String(view.chi));
	if (view.prune !== DEFAULT_VIEW.prune) p.set('prune', view.prune);
	return p;
}

const int = (text: string | null, min: number, max: number): number | null => {
	if (text === null || !/^-?\d+$/.test(text)) return null;
	const v = Number(text);
	return v >= min && v <= max ? v : null;
};

/** The view a URL asks for, plus the parameters it had to ignore (shown to the user). */
export function viewFromParams(p: URLSearchParams): { view: View; ignored: string[] } {
	const view: View = { ...DEFAULT_VIEW };
	const ignored: string[] = [];
	const take = <T>(key: string, parse: (v: string) => T | null, set: (v: T) => void) => {
		const raw = p.get(key);
		if (raw === null) return;
		// A link is anyone's input: refuse absurd values before parsing, and quote only the start of one.
		const shown = `${key}=${raw.length > 60 ? raw.slice(0, 60) + '…' : raw}`;
		if (raw.length > MAX_PARAM_LENGTH) return void ignored.push(`${shown} (${raw.length} characters, above the limit of ${MAX_PARAM_LENGTH})`);
		let v: T | null;
		try {
			v = parse(raw);
		} catch (e) {
			return void ignored.push(`${shown} (${(e as Error).message})`);
		}
		if (v === null) ignored.push(shown);
		else set(v);
	};
	take('model', modelRefFromParam, (v) => (view.model = v));
	take('backend', (v) => (BACKENDS.includes(v as BackendChoice) ? (v as BackendChoice) : null), (v) => (view.backend = v));
	take('task', parseTaskParam, (v) => (view.task = v));
	take('n', (v) => int(v, 1, maxPrompts(view.task)), (v) => (view.n = v));
	take('seed', (v) => int(v, 0, 2 ** 31 - 1), (v) => (view.seed = v));
	take('method', (v) => (SCAN_METHODS.includes(v as ScanMethod) ? (v as ScanMethod) : null), (v) => (view.method = v));
	take('head', (v) => {
		const m = /^(\d+)\.(\d+)$/.exec(v);
		return m && Number(m[1]) < MAX_HEAD_INDEX && Number(m[2]) < MAX_HEAD_INDEX ? { layer: Number(m[1]), head: Number(m[2]) } : null;
	}, (v) => (view.head = v));
	take('k', (v) => int(v, 0, 64), (v) => (view.topK = v));
	take('prompt', (v) => int(v, 0, maxPrompts(view.task) - 1), (v) => (view.prompt = v));
	take('neuron', (v) => {
		const m = /^(\d{1,7})\.(\d{1,7})$/.exec(v);
		return m && Number(m[1]) < MAX_HEAD_INDEX && Number(m[2]) < MAX_NEURON_INDEX ? { layer: Number(m[1]), neuron: Number(m[2]) } : null;
	}, (v) => (view.neuron = v));
	// an IPR lies in (0, 1]
	take('chi', (v) => (/^\d*\.?\d+(e-?\d{1,3})?$/i.test(v) && Number(v) > 0 && Number(v) <= 1 ? Number(v) : null), (v) => (view.chi = v));
	take('prune', (v) => (NEURON_ABLATIONS.includes(v as NeuronAblation) ? (v as NeuronAblation) : null), (v) => (view.prune = v));
	return { view, ignored };
}

/**
 * Most prompts a set of `spec` may hold: MAX_PROMPTS, or every pair of a modular task (the neuron lens
 * needs all p² of them; the memory budget still refuses a set too large for the model).
 */
export function maxPrompts(spec: string | null): number {
	if (!spec) return MAX_PROMPTS;
	try {
		const task = parseTaskSpec(spec);
		return task.modulus ? Math.max(MAX_PROMPTS, distinctProblems(task)) : MAX_PROMPTS;
	} catch {
		return MAX_PROMPTS;
	}
}

/**
 * A task spec from a link, checked now: the task parser refuses absurd values (`pad=20000000` froze
 * the tab generating 20-million-digit answers), and its message tells the user why the link's task
 * was not used.
 */
function parseTaskParam(text: string): string | null {
	if (!text.trim()) return null;
	if (text.length > MAX_TASK_LENGTH) throw new Error(`${text.length} characters, above the limit of ${MAX_TASK_LENGTH}`);
	try {
		parseTaskSpec(text);
	} catch (e) {
		const prefix = `task spec '${text.trim()}': `; // the ignored entry already quotes the spec
		const message = (e as Error).message;
		throw new Error(message.startsWith(prefix) ? message.slice(prefix.length) : message);
	}
	return text;
}
