// The engine: one API on every backend. run(tokens, { hooks, interventions, positions }) builds (once)
// the graph variant that exposes those hooks and takes those interventions, runs it, and returns
// logits plus a cache of hook tensors; with `score`, what the metrics read in place of the logits.
// Sessions are cached per variant and released on dispose.
import { ATTRIBUTION, buildModel, INPUTS, OUTPUTS, Z_FREE, type GraphOptions } from '../graph';
import { WIDEN_IN_SESSION_MAX_BYTES } from '../model/memory';
import { allHookNames, type HookName } from '../model/hooks';
import { rotaryRows, type Spec } from '../model/spec';
import { bf16AsF16 } from '../model/safetensors';
import { isHalf, numel, type Tensor, type Weight } from '../model/tensor';
import { BACKENDS, type BackendName, type OrtModule, type OrtSession, type OrtTensor } from './backends';

/** Anything with a spec and canonical weights (a LoadedModel from model/ satisfies it). */
export interface ModelLike {
	spec: Spec;
	weights: ReadonlyMap<string, Weight>;
}

/**
 * Weights of at least this many bytes reach onnxruntime as external data, views of the weights beside
 * a small ModelProto: no copy into a protobuf first, and no 2 GiB protobuf limit. Small constants stay inline.
 */
const EXTERNAL_ABOVE = 4096;

export interface EngineOptions {
	/** The onnxruntime module: use createNodeEngine / createWebEngine, which pass it for you. */
	ort: OrtModule;
	backend: BackendName;
	/** Where onnxruntime-web finds its .wasm files; must be on our own origin (never a CDN). */
	wasmPaths?: string | Record<string, string>;
	/** WASM threads (onnxruntime-web); 1 in plain Node and in pages without cross-origin isolation. */
	numThreads?: number;
	/** Sessions kept alive at once (one per graph variant); the least recently used is released. */
	maxSessions?: number;
	/**
	 * Bytes of ONNX graphs (about the weights onnxruntime copies into each session) kept alive at once
	 * (default 1 GiB: two GPT-2-small graphs). Least recently used sessions are released before a new
	 * one is built, so its memory is reused rather than newly mapped: holding three GPT-2-small
	 * sessions made each further one take 2 s instead of 0.7 s to start on our 2-core machine.
	 */
	maxSessionBytes?: number;
	/**
	 * Half-precision weights are widened to f32 in a session while that stays within this many bytes
	 * (default WIDEN_IN_SESSION_MAX_BYTES, 1 GiB), else kept half and cast at use; 0 always casts at use.
	 */
	maxWidenedBytes?: number;
}

const DEFAULT_MAX_SESSION_BYTES = 1024 ** 3;

/** DESIGN §4: z' = m z + (1 - m) r on hook_z and hook_post. A mask without replacement means r = 0. */
export interface Interventions {
	head_mask?: Tensor; // [B,L,H] or [B,L,H,T]
	head_repl?: Tensor; // [B,L,H,T,dh]
	mlp_mask?: Tensor; // [B,L] or [B,L,M]
	mlp_repl?: Tensor; // [B,L,T,M]
}

export interface RunOptions {
	hooks?: readonly HookName[];
	interventions?: Interventions;
	/** Per row, the positions whose logits are wanted; logits then have shape [B,P,V]. */
	positions?: number[][];
	/**
	 * Start at block `layer` from its residual stream `resid` [B,T,D] (hook_resid_pre, e.g. from a
	 * cached clean run) instead of from the tokens, skipping the blocks below. The tokens still give
	 * B and T. Scans use it to reuse what an intervention at block `layer` cannot change.
	 */
	start?: { layer: number; resid: Tensor };
	/** Also return `freeZ` [B,L',H,T,dh]: each head's z before the head intervention, blocks from the start layer up. */
	freeZ?: boolean;
}

/** Scoring in the graph (with positions): the logits stay in onnxruntime, only what metrics read comes back. */
export interface ScoreRequest {
	/** targets[b][p]: the token ids whose logits to return at gathered position p of row b; K ids everywhere. */
	targets: number[][][];
	/** Return the [B,P,V] logits as well (default false). */
	logits?: boolean;
	/** Also direct logit attribution and the logit lens of the targets (graph/attribution.ts). */
	attribute?: boolean;
}

/** Direct logit attribution of each gathered position's K targets, and the logit lens of the first. */
export interface AttributionOutputs {
	embed: Tensor; // [B,P,K]
	pos?: Tensor; // [B,P,K], standard positions only
	heads: Tensor; // [B,P,L,H,K]
	bias?: Tensor; // [B,P,L,K], models with b_O
	mlps?: Tensor; // [B,P,L,K], models with MLPs
	constant?: Tensor; // [B,P,K], models with a final-norm bias or b_U
	lensLogprob: Tensor; // [B,P,L+1]
	lensRank: Tensor; // [B,P,L+1]
}

export interface ScoreRunOptions extends RunOptions {
	positions: number[][];
	score: ScoreRequest;
}

/** What a scoring run returns per gathered position: enough for every metric of DESIGN §5. */
export interface ScoreOutputs {
	/** log Σ_v exp(logit_v), [B,P]. */
	logsumexp: Tensor;
	/** Index of the largest logit, the first one on ties, [B,P]. */
	argmax: { data: Int32Array; shape: number[] };
	/** Logits of the target ids, [B,P,K]. */
	logits: Tensor;
}

export interface RunResult {
	/** [B,T,V], or [B,P,V] with positions. */
	logits: Tensor;
	cache: Map<HookName, Tensor>;
	/** Only with options.freeZ. */
	freeZ?: Tensor;
}

export interface ScoreRunResult {
	scores: ScoreOutputs;
	/** [B,P,V], only when score.logits asked for it. */
	logits?: Tensor;
	cache: Map<HookName, Tensor>;
	/** Only when score.attribute asked for it. */
	attribution?: AttributionOutputs;
	freeZ?: Tensor;
}

export interface Engine {
	readonly spec: Spec;
	/** The backend that actually runs (webgpu may have fallen back to wasm). */
	readonly backend: BackendName;
	readonly requestedBackend: BackendName;
	readonly fallbackReason?: string;
	/** Live onnxruntime sessions (one per graph variant used recently; 0 after dispose). */
	readonly sessionCount: number;
	/** With `score` (and positions): scores in place of logits. */
	run(tokens: number[][], options: ScoreRunOptions): Promise<ScoreRunResult>;
	run(tokens: number[][], options?: RunOptions): Promise<RunResult>;
	dispose(): Promise<void>;
}

function checkWasmPaths(paths: EngineOptions['wasmPaths']): void {
	const origin = (globalThis as { location?: { origin?: string } }).location?.origin;
	for (const p of typeof paths === 'string' ? [paths] : Object.values(paths ?? {})) {
		if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(p)) continue; // relative: our origin by construction
		if (p.startsWith('file://') || (origin && new URL(p).origin === origin)) continue;
		throw new Error(`wasmPaths: '${p}' is not on this origin; serve the onnxruntime-web .wasm files yourself`);
	}
}

function expectShape(name: string, t: Tensor, options: number[][]): void {
	if (!options.some((s) => s.join() === t.shape.join()))
		throw new Error(`${name}: shape [${t.shape}] is not ${options.map((s) => `[${s}]`).join(' or ')}`);
	if (t.data.length !== numel(t.shape)) throw new Error(`${name}: ${t.data.length} values for shape [${t.shape}]`);
}

/** The graph variant a call needs, and its input tensors (validated against the spec). */
function prepare(spec: Spec, tokens: number[][], opts: RunOptions & { score?: ScoreRequest }) {
	const { n_layers: L, n_heads: H, d_head: dh, d_mlp: M, d_vocab: V } = spec;
	const Bn = tokens.length;
	const Tn = tokens[0]?.length ?? 0;
	if (Bn === 0 || Tn === 0) throw new Error('run: tokens must be a non-empty [B][T] array');
	if (tokens.some((row) => row.length !== Tn)) throw new Error('run: token rows must have equal length (pad them)');
	if (spec.pos !== 'none' && Tn > spec.n_ctx) throw new Error(`run: ${Tn} tokens exceed n_ctx ${spec.n_ctx}`);
	if (spec.pos === 'rotary' && Tn > rotaryRows(spec)) throw new Error(`run: ${Tn} tokens exceed the ${rotaryRows(spec)} positions the rotary tables cover`);
	const ids = new BigInt64Array(Bn * Tn);
	tokens.flat().forEach((id, i) => {
		if (!Number.isInteger(id) || id < 0 || id >= V) throw new Error(`run: token id ${id} is outside the vocabulary [0, ${V})`);
		ids[i] = BigInt(id);
	});

	const wanted = new Set(opts.hooks ?? []);
	const known = allHookNames(spec);
	for (const h of wanted) if (!known.includes(h)) throw new Error(`run: '${h}' is not a hook point of this model`);
	const hooks = known.filter((h) => wanted.has(h) && h !== 'logits');

	const iv = opts.interventions ?? {};
	const floats: Record<string, Tensor> = {};
	let heads: GraphOptions['heads'] = 'none';
	let mlps: GraphOptions['mlps'] = 'none';
	if (iv.head_repl && !iv.head_mask) throw new Error('run: head_repl needs head_mask');
	if (iv.mlp_repl && !iv.mlp_mask) throw new Error('run: mlp_repl needs mlp_mask');
	if (iv.head_mask) {
		expectShape('head_mask', iv.head_mask, [[Bn, L, H], [Bn, L, H, Tn]]);
		heads = iv.head_mask.shape.length === 3 ? 'head' : 'head_pos';
		const repl = iv.head_repl ?? { data: new Float32Array(Bn * L * H * Tn * dh), shape: [Bn, L, H, Tn, dh] };
		expectShape('head_repl', repl, [[Bn, L, H, Tn, dh]]);
		floats[INPUTS.headMask] = iv.head_mask;
		floats[INPUTS.headRepl] = repl;
	}
	if (iv.mlp_mask) {
		if (spec.attn_only) throw new Error('run: mlp_mask given but the model is attention-only');
		expectShape('mlp_mask', iv.mlp_mask, [[Bn, L], [Bn, L, M]]);
		mlps = iv.mlp_mask.shape.length === 2 ? 'layer' : 'neuron';
		const repl = iv.mlp_repl ?? { data: new Float32Array(Bn * L * Tn * M), shape: [Bn, L, Tn, M] };
		expectShape('mlp_repl', repl, [[Bn, L, Tn, M]]);
		floats[INPUTS.mlpMask] = iv.mlp_mask;
		floats[INPUTS.mlpRepl] = repl;
	}
	let positions: BigInt64Array | undefined;
	let Pn = 0;
	if (opts.positions) {
		Pn = opts.positions[0]?.length ?? 0;
		if (opts.positions.length !== Bn || Pn === 0 || opts.positions.some((r) => r.length !== Pn))
			throw new Error(`run: positions must be ${Bn} rows of equal, non-zero length`);
		positions = BigInt64Array.from(
			opts.positions.flat().map((p) => {
				if (!Number.isInteger(p) || p < 0 || p >= Tn) throw new Error(`run: position ${p} is outside [0, ${Tn})`);
				return BigInt(p);
			})
		);
	}
	const targets = opts.score ? scoreTargets(opts.score.targets, Bn, Pn, V) : undefined;
	let startLayer = 0;
	if (opts.start && opts.start.layer !== 0) {
		startLayer = opts.start.layer;
		if (!Number.isInteger(startLayer) || startLayer < 0 || startLayer >= L)
			throw new Error(`run: start layer ${startLayer} is not a block index in [0, ${L})`);
		expectShape('start.resid', opts.start.resid, [[Bn, Tn, spec.d_model]]);
		floats[INPUTS.residPre] = opts.start.resid;
	}
	const score = !!targets;
	// a 'logits' hook in score mode asks for the logits too
	const logits = !score || !!opts.score?.logits || wanted.has('logits');
	const attribute = score && !!opts.score?.attribute;
	if (attribute && startLayer !== 0) throw new Error('run: attribution starts from the tokens (no start layer)');
	const graph: GraphOptions = { hooks, heads, mlps, positions: positions ? 'gather' : 'all', startLayer, score, logits: score && logits, attribute, freeZ: !!opts.freeZ };
	return { graph, ids, shape: [Bn, Tn], floats, positions, Pn, targets };
}

/** score.targets as int64 [B,P,K], checked: one row per batch row, P slots each, the same K ids (in the vocabulary) per slot. */
function scoreTargets(targets: number[][][], Bn: number, Pn: number, V: number): { data: BigInt64Array; shape: number[] } {
	if (Pn === 0) throw new Error('run: score needs positions');
	const Kn = targets[0]?.[0]?.length ?? 0;
	if (targets.length !== Bn || Kn === 0 || targets.some((row) => row.length !== Pn || row.some((ids) => ids.length !== Kn)))
		throw new Error(`run: score.targets must be ${Bn} rows of ${Pn} positions with the same, non-zero number of ids`);
	const data = new BigInt64Array(Bn * Pn * Kn);
	let i = 0;
	for (const row of targets)
		for (const ids of row)
			for (const id of ids) {
				if (!Number.isInteger(id) || id < 0 || id >= V) throw new Error(`run: score target ${id} is outside the vocabulary [0, ${V})`);
				data[i++] = BigInt(id);
			}
	return { data, shape: [Bn, Pn, Kn] };
}

const variantKey = (g: GraphOptions): string =>
	`${g.heads}|${g.mlps}|${g.positions}|${g.startLayer ?? 0}|${g.score ? (g.logits ? 'score+logits' : 'score') : 'logits'}|${g.attribute ? 'attribute' : ''}|${g.freeZ ? 'freeZ' : ''}|${(g.hooks ?? []).join(',')}`;

/** An engine for `model` on `options.backend`; webgpu falls back to wasm when it cannot start. */
export async function createEngine(model: ModelLike, options: EngineOptions): Promise<Engine> {
	const { ort, spec } = { ort: options.ort, spec: model.spec };
	const requested = options.backend;
	if (!BACKENDS[requested]) throw new Error(`backend '${requested}' is not one of ${Object.keys(BACKENDS).join(', ')}`);
	const runtimeOf = (name: BackendName) => BACKENDS[name].runtime;
	if (!ort.env.versions[runtimeOf(requested)])
		throw new Error(`backend '${requested}' needs onnxruntime-${runtimeOf(requested)}; this ort module is another package`);
	if (runtimeOf(requested) === 'web') {
		checkWasmPaths(options.wasmPaths);
		if (options.wasmPaths !== undefined) ort.env.wasm.wasmPaths = options.wasmPaths;
		if (options.numThreads !== undefined) ort.env.wasm.numThreads = options.numThreads;
	}

	const maxSessions = options.maxSessions ?? 8;
	const maxBytes = options.maxSessionBytes ?? DEFAULT_MAX_SESSION_BYTES;
	const sessions = new Map<string, { session: OrtSession; bytes: number }>(); // insertion order = least recently used first
	let backend = requested;
	let fallbackReason: string | undefined;
	let queue: Promise<unknown> = Promise.resolve();
	let disposed = false;

	/** Releases the least recently used sessions until one more, of `bytes`, fits both limits. */
	async function makeRoom(bytes: number): Promise<void> {
		let total = bytes;
		for (const s of sessions.values()) total += s.bytes;
		for (const [key, old] of sessions) {
			if (sessions.size < maxSessions && total <= maxBytes) break;
			sessions.delete(key);
			total -= old.bytes;
			await old.session.release();
		}
	}

	// onnxruntime-web's browser build has no bfloat16 Cast: its sessions get BF16 weights as F16 (made once)
	let webWeights: ReadonlyMap<string, Weight> | undefined;
	const weightsFor = (on: BackendName): ReadonlyMap<string, Weight> => {
		if (runtimeOf(on) !== 'web' || ![...model.weights.values()].some((w) => isHalf(w) && w.dtype === 'bfloat16')) return model.weights;
		return (webWeights ??= new Map([...model.weights].map(([n, w]) => [n, isHalf(w) && w.dtype === 'bfloat16' ? bf16AsF16(w) : w])));
	};

	// Half weights are widened to f32 by onnxruntime's constant folding (fastest to run) while the
	// widened weights fit maxWidenedBytes; past that a session keeps them half and casts each block's
	// weights when the block starts (memory.ts counts the same way).
	let half = 0;
	let full = 0;
	for (const w of model.weights.values()) isHalf(w) ? (half += 2 * w.data.length) : (full += 4 * w.data.length);
	const castAtUse = half > 0 && full + 2 * half > (options.maxWidenedBytes ?? WIDEN_IN_SESSION_MAX_BYTES);

	async function open(g: GraphOptions, on: BackendName): Promise<{ session: OrtSession; bytes: number }> {
		const built = buildModel(spec, weightsFor(on), { ...g, castAtUse }, EXTERNAL_ABOVE);
		const bytes = (castAtUse ? built.weightBytes : built.weightBytes + built.halfBytes) + built.model.length;
		await makeRoom(bytes);
		const session = await ort.InferenceSession.create(built.model, {
			executionProviders: BACKENDS[on].executionProviders,
			externalData: built.externalData,
			...(castAtUse ? { extra: { optimization: { disable_specified_optimizers: 'ConstantFolding' } } } : {})
		});
		return { session, bytes };
	}

	async function session(g: GraphOptions): Promise<OrtSession> {
		const key = variantKey(g);
		const s = sessions.get(key) ?? (await open(g, backend));
		sessions.delete(key);
		sessions.set(key, s);
		return s.session;
	}

	// Start on the requested backend with the plain logits graph; fall back when it cannot start.
	const plain: GraphOptions = { hooks: [], heads: 'none', mlps: 'none', positions: 'all', startLayer: 0 };
	const fallback = BACKENDS[requested].fallback;
	const reason = await BACKENDS[requested].unavailable?.();
	if (reason && fallback) [backend, fallbackReason] = [fallback, reason];
	else if (reason) throw new Error(`backend '${requested}': ${reason}`);
	try {
		sessions.set(variantKey(plain), await open(plain, backend));
	} catch (e) {
		if (backend !== requested || !fallback) throw e;
		[backend, fallbackReason] = [fallback, `${requested} session failed: ${(e as Error).message}`];
		sessions.set(variantKey(plain), await open(plain, backend));
	}

	async function runOnce(tokens: number[][], opts: RunOptions & { score?: ScoreRequest }): Promise<RunResult | ScoreRunResult> {
		if (disposed) throw new Error('run: engine was disposed');
		const p = prepare(spec, tokens, opts);
		const s = await session(p.graph);
		const feeds: Record<string, OrtTensor> = {};
		if (!p.graph.startLayer) feeds[INPUTS.tokens] = new ort.Tensor('int64', p.ids, p.shape);
		for (const [name, t] of Object.entries(p.floats)) feeds[name] = new ort.Tensor('float32', t.data, t.shape);
		if (p.positions) feeds[INPUTS.positions] = new ort.Tensor('int64', p.positions, [p.shape[0], p.Pn]);
		if (p.targets) feeds[INPUTS.targets] = new ort.Tensor('int64', p.targets.data, p.targets.shape);
		const out = await s.run(feeds);
		const toTensor = (o: OrtTensor): Tensor => ({ data: o.data as Float32Array, shape: [...o.dims] });
		const cache = new Map<HookName, Tensor>();
		for (const h of opts.hooks ?? []) cache.set(h, toTensor(out[h === 'logits' ? OUTPUTS.logits : h]));
		const logits = p.graph.score && !p.graph.logits ? undefined : toTensor(out[OUTPUTS.logits]);
		let scores: ScoreOutputs | undefined;
		if (p.graph.score) {
			const argmax = out[OUTPUTS.argmax];
			scores = {
				logsumexp: toTensor(out[OUTPUTS.logsumexp]),
				argmax: { data: Int32Array.from(argmax.data as BigInt64Array, Number), shape: [...argmax.dims] },
				logits: toTensor(out[OUTPUTS.targetLogits])
			};
		}
		const optional = (name: string) => (out[name] ? toTensor(out[name]) : undefined);
		const attribution: AttributionOutputs | undefined = p.graph.attribute
			? {
					embed: toTensor(out[ATTRIBUTION.embed]),
					pos: optional(ATTRIBUTION.pos),
					heads: toTensor(out[ATTRIBUTION.heads]),
					bias: optional(ATTRIBUTION.bias),
					mlps: optional(ATTRIBUTION.mlps),
					constant: optional(ATTRIBUTION.constant),
					lensLogprob: toTensor(out[ATTRIBUTION.lensLogprob]),
					lensRank: toTensor(out[ATTRIBUTION.lensRank])
				}
			: undefined;
		const freeZ = optional(Z_FREE);
		for (const o of Object.values(out)) o.dispose();
		return scores ? { scores, logits, cache, attribution, freeZ } : { logits: logits!, cache, freeZ };
	}

	return {
		spec,
		get backend() {
			return backend;
		},
		requestedBackend: requested,
		get fallbackReason() {
			return fallbackReason;
		},
		get sessionCount() {
			return sessions.size;
		},
		// Runs are serialised: onnxruntime-web sessions do not take overlapping runs, and it keeps the LRU simple.
		run: ((tokens: number[][], opts: RunOptions & { score?: ScoreRequest } = {}) => {
			const result = queue.then(() => runOnce(tokens, opts));
			queue = result.catch(() => undefined);
			return result;
		}) as Engine['run'],
		async dispose() {
			disposed = true;
			await queue;
			const all = [...sessions.values()];
			sessions.clear();
			await Promise.all(all.map((s) => s.session.release()));
		}
	};
}
