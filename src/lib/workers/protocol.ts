// The typed message protocol between the page and engine.worker.ts. Every call is a request with an
// id; the worker answers with any number of progress messages and then one result or one error.
// `cancel` aborts the AbortSignal the worker handed to that call. Large arrays travel as
// Float32Array (transferred, not copied).
import type { AblationMethod, FaithfulnessResult, MulSubtaskReport } from '$lib/core/experiments';
import type { PositionAttribution } from '$lib/core/experiments/attribution';
import type { Edge } from '$lib/core/experiments/edges';
import type { GroupScores, NeuronAblation, NeuronImportance, NeuronLensResult, PruneResult, SweepPoint } from '$lib/core/experiments/neurons';
import type { ScanMethod } from '$lib/core/experiments/methods';
import type { HeadEntry, MlpEntry } from '$lib/core/export';
import type { TokenizerFiles } from '$lib/core/model';
import type { HeadRef, Spec } from '$lib/core/model/spec';
import type { PromptRecord } from '$lib/core/tasks';

/** 'auto' picks WebGPU on a hardware adapter and WASM otherwise (a software adapter is much slower than WASM). */
export type BackendChoice = 'auto' | 'webgpu' | 'wasm';
export type RunningBackend = 'webgpu' | 'wasm';

/** Where the worker reads a model from; URLs are absolute (the worker's base is not the page's). */
export type ModelSourceSpec =
	| { kind: 'url'; url: string; label?: string }
	| { kind: 'hub'; id: string; revision: string }
	| { kind: 'files'; files: { path: string; file: Blob }[]; label: string };

export interface BackendInfo {
	backend: RunningBackend;
	requested: BackendChoice;
	/** Why the backend shown is not the one asked for (or why 'auto' chose it). */
	reason?: string;
	/** onnxruntime-web WASM threads (ort.env.wasm.numThreads): >1 only when the worker is cross-origin isolated. */
	threads: number;
	/** self.crossOriginIsolated in the worker: SharedArrayBuffer, hence WASM threads, are available. */
	isolated: boolean;
	/** Why there is one thread only, when that is so. */
	threadsReason?: string;
}

export interface ModelInfo extends BackendInfo {
	id: string;
	revision?: string;
	weightsSha256?: string;
	spec: Spec;
	params: number;
	/** The model's tokenizer files, so the page tokenizes prompts exactly as the worker does. */
	tokenizer: TokenizerFiles & { modelConfig: Record<string, unknown> };
}

export interface LoadProgress {
	phase: 'download' | 'build';
	file?: string;
	loaded?: number;
	total?: number | null;
}

export interface Accuracy {
	n: number;
	/** Share of prompts whose every answer token is the argmax (teacher forcing = greedy exact match). */
	accuracy: number;
	/** Accuracy per answer token position, first answer token first. */
	perPosition: number[];
	/** Mean over prompts of the summed log-probability of the answer tokens. */
	logprob: number;
	/** Multiplication prompts: accuracy and loss per answer digit and per subtask class. */
	mul?: MulSubtaskReport;
	/** Why a multiplication set has no digit views (the tokenizer writes several digits in one token). */
	mulUnavailable?: string;
}

export { SCAN_METHODS, type ScanMethod } from '$lib/core/experiments/methods';

export interface ScanArgs {
	method: ScanMethod;
	prompts: PromptRecord[];
	/** Seed of the resampling permutation. */
	seed: number;
}

export interface ScanProgress {
	done: number;
	total: number;
	stage?: string;
}

/** A scan ranked in the worker by core's runMethod, as the exports rank it: the page uses the entries as given. */
export interface ScanResult {
	method: ScanMethod;
	/** The metric the scores are in (provenance.metric). */
	metric: string;
	layers: number;
	heads: number;
	/** Every head in rank order (1 = most important), with accuracy, logprob and per-answer-position drops for ablations. */
	entries: HeadEntry[];
	/** MLP layers in rank order; empty where the scan has none (path patching, attention-only models). */
	mlps: MlpEntry[];
	clean: Record<string, number>;
	n: number;
	/** Prompts a patching scan left out for want of a usable counterfactual, and the first reason. */
	leftOut?: { n: number; reason: string };
	/** Ablation scans of multiplication prompts: each head's effect per answer digit and subtask class. */
	mul?: MulSubtaskReport;
	mulUnavailable?: string;
	/** Wall time of the scan in the worker, ms. */
	ms: number;
}

export interface PatternArgs {
	prompt: string;
	answer: string;
}

export interface PatternResult {
	/** Vocabulary string of each token of prompt + answer. */
	tokens: string[];
	/** Number of prompt tokens (specials included); answer tokens follow. */
	promptLength: number;
	layers: number;
	heads: number;
	/** hook_pattern of every layer, [L, H, T, T]. */
	patterns: Float32Array;
	/** The model's greedy prediction of each answer token under teacher forcing. */
	predicted: string[];
}

export interface FaithfulnessArgs {
	prompts: PromptRecord[];
	method: AblationMethod;
	heads: HeadRef[];
	seed: number;
}

export interface AttentionResult {
	/** Target labels: a0 (a's units digit), a1…, op, b0…, '='. */
	targets: string[];
	/** Mean attention [L, H, A, K] from the position predicting answer token i to target k, over the set. */
	attention: Float32Array;
	layers: number;
	heads: number;
	answers: number;
}

/** Direct logit attribution and the logit lens of a prompt set, per answer position (core/experiments/attribution.ts). */
export interface AttributionView {
	/** Component names in the order of every position's `components`. */
	names: string[];
	positions: PositionAttribution[];
	/** Text of each answer position's token. */
	tokens: string[];
	layers: number;
	heads: number;
	n: number;
	/** Prompts whose logit difference was attributed (they have a counterfactual answer). */
	logitDiffPrompts: number;
}

export interface EdgesArgs {
	prompts: PromptRecord[];
	/** Restrict senders and receivers to these heads (default every head). */
	heads?: HeadRef[];
}

export interface EdgesView {
	edges: Edge[];
	n: number;
	leftOut?: { n: number; reason: string };
}

export interface NeuronsArgs {
	prompts: PromptRecord[];
	/** One block's neurons (default every block). */
	layer?: number;
	/** IPR exponent (default 2). */
	r?: number;
	/** χ (default Otsu's split of log10 IPR). */
	threshold?: number;
}

/** The neuron lens of a full modular prompt set (core/experiments/neurons.ts); the grids stay in the worker. */
/** The lens as the page gets it: the summaries, without the grids (they stay in the worker). */
export interface NeuronsView extends Omit<NeuronLensResult, 'grids'> {
	layers: number[];
	/** The records carry split, corrupted and true_answer, so pruning can be scored per group. */
	hasSplit: boolean;
	/** Group sizes (train_clean, train_corrupted, test). */
	groups: Record<string, number>;
}

export interface NeuronGridView {
	layer: number;
	neuron: number;
	p: number;
	/** A[a * p + b]: hook_post at the last prompt position. */
	grid: Float32Array;
	/** |DFT2(A − mean A)|[ka * p + kb]. */
	spectrum: Float32Array;
}

export interface PruneArgs {
	threshold: number;
	ablation?: NeuronAblation;
}

export interface SweepArgs {
	steps?: number;
	seed?: number;
	ablation?: NeuronAblation;
}

export interface CheckpointIpr {
	step: number;
	/** Quartiles of the live neurons' IPR. */
	q1: number;
	median: number;
	q3: number;
	/** Share of the live neurons below χ. */
	below: number;
	n: number;
}

export interface CheckpointsArgs {
	prompts: PromptRecord[];
	/** Absolute URL of each checkpoint folder, by step. */
	checkpoints: { step: number; url: string }[];
	threshold: number;
	layer?: number;
	r?: number;
}

export type { GroupScores, NeuronImportance, PruneResult, SweepPoint };

export interface CompareArgs {
	/** The second model (a fine-tuned folder, a checkpoint): scanned beside the loaded one. */
	source: ModelSourceSpec;
	method: ScanMethod;
	prompts: PromptRecord[];
	seed: number;
	/** Faithfulness of each model's own top k heads (0: none). */
	topK: number;
	/** The loaded model's ranked heads (its top k get its faithfulness). */
	first: HeadEntry[];
	maxBytes?: number;
}

export interface CompareResult {
	/** The second model's id. */
	id: string;
	scan: ScanResult;
	accuracy: Accuracy;
	/** a: the loaded model's top k, b: the second model's own. */
	faithfulness: { a: FaithfulnessResult; b: FaithfulnessResult } | null;
}

/** Each call: its arguments, its result and the shape of its progress messages. */
export interface Calls {
	/** maxBytes: refuse a model whose estimated memory is above it (default: loadModel's 2 GiB). */
	load: { args: { source: ModelSourceSpec; backend: BackendChoice; maxBytes?: number }; result: ModelInfo; progress: LoadProgress };
	setBackend: { args: { backend: BackendChoice }; result: BackendInfo; progress: LoadProgress };
	evaluate: { args: { prompts: PromptRecord[] }; result: Accuracy; progress: ScanProgress };
	scan: { args: ScanArgs; result: ScanResult; progress: ScanProgress };
	pattern: { args: PatternArgs; result: PatternResult; progress: never };
	attention: { args: { prompts: PromptRecord[] }; result: AttentionResult; progress: ScanProgress };
	faithfulness: { args: FaithfulnessArgs; result: FaithfulnessResult; progress: ScanProgress };
	attribute: { args: { prompts: PromptRecord[] }; result: AttributionView; progress: ScanProgress };
	edges: { args: EdgesArgs; result: EdgesView; progress: ScanProgress };
	compare: { args: CompareArgs; result: CompareResult; progress: ScanProgress };
	neurons: { args: NeuronsArgs; result: NeuronsView; progress: ScanProgress };
	neuronGrid: { args: { layer: number; neuron: number }; result: NeuronGridView; progress: never };
	prune: { args: PruneArgs; result: PruneResult; progress: ScanProgress };
	sweep: { args: SweepArgs; result: SweepPoint[]; progress: ScanProgress };
	neuronImportance: { args: { prompts: PromptRecord[]; layer?: number; ablation?: NeuronAblation }; result: NeuronImportance[]; progress: ScanProgress };
	neuronCheckpoints: { args: CheckpointsArgs; result: CheckpointIpr[]; progress: ScanProgress };
}
export type CallName = keyof Calls;

export type Request =
	| { [K in CallName]: { id: number; type: K; args: Calls[K]['args'] } }[CallName]
	| { id: number; type: 'cancel' };

export type Response =
	| { id: number; type: 'progress'; progress: Calls[CallName]['progress'] }
	| { id: number; type: 'result'; result: Calls[CallName]['result'] }
	| { id: number; type: 'error'; error: WorkerError };

/** An error as it crosses to the page; a model refused for its size carries its estimate and the limit. */
export interface WorkerError {
	name: string;
	message: string;
	needBytes?: number;
	limitBytes?: number;
}

/** Float32Array buffers inside a result, so the worker can transfer rather than copy them. */
export function transferables(value: unknown): ArrayBuffer[] {
	const out = new Set<ArrayBuffer>();
	const visit = (v: unknown) => {
		if (v instanceof Float32Array && v.buffer instanceof ArrayBuffer) out.add(v.buffer);
		else if (Array.isArray(v)) v.forEach(visit);
		else if (v && typeof v === 'object' && !(v instanceof Blob)) Object.values(v).forEach(visit);
	};
	visit(value);
	return [...out];
}
