// The worker's one loaded model and its engine: loading from a URL, the hub or dropped files, and
// (re)building the engine on a backend. 'auto' asks for WebGPU only on a hardware adapter: a
// software adapter (headless Chromium's SwiftShader) is far slower than WASM (docs/engine.md).
import { filesSource, hubSource, loadModel, redactUrl, urlSource, type FileSource, type LoadedModel } from '$lib/core/model';
import { numel } from '$lib/core/model/tensor';
import { createWebEngine } from '$lib/core/runtime/web';
import type { Engine } from '$lib/core/runtime';
import type { BackendChoice, BackendInfo, LoadProgress, ModelInfo, ModelSourceSpec } from './protocol';
// Served from our own origin: Vite emits this file next to the bundle and gives us its URL.
import ortWasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm?url';

export interface Session {
	model: LoadedModel;
	engine: Engine;
	info: BackendInfo;
}

let current: Session | null = null;

export function session(): Session {
	if (!current) throw new Error('no model is loaded yet');
	return current;
}

export function sourceOf(spec: ModelSourceSpec): FileSource {
	// the id is shown and lands in provenance: never with a password or token in it
	if (spec.kind === 'url') return { ...urlSource(spec.url), id: spec.label ?? redactUrl(spec.url) };
	if (spec.kind === 'hub') return hubSource(spec.id, { revision: spec.revision });
	return filesSource(new Map(spec.files.map((f) => [f.path, f.file])), spec.label);
}

interface GpuAdapterLike {
	info?: { isFallbackAdapter?: boolean; description?: string; vendor?: string };
	isFallbackAdapter?: boolean;
}

/** The backend to ask the engine for, and why, for a user's choice. */
async function resolveBackend(choice: BackendChoice): Promise<{ backend: 'webgpu' | 'wasm'; reason?: string }> {
	if (choice !== 'auto') return { backend: choice };
	const gpu = (navigator as { gpu?: { requestAdapter(): Promise<GpuAdapterLike | null> } }).gpu;
	if (!gpu) return { backend: 'wasm', reason: 'auto: this browser has no WebGPU' };
	const adapter = await gpu.requestAdapter().catch(() => null);
	if (!adapter) return { backend: 'wasm', reason: 'auto: WebGPU gave no adapter' };
	if (adapter.info?.isFallbackAdapter ?? adapter.isFallbackAdapter)
		return { backend: 'wasm', reason: 'auto: the WebGPU adapter is a software fallback, slower than WASM' };
	return { backend: 'webgpu' };
}

/** More WASM threads than this gain little on these small graphs and take memory per thread. */
const MAX_THREADS = 8;

/**
 * WASM threads need SharedArrayBuffer, which a browser gives only to a cross-origin isolated page
 * (COOP same-origin + COEP require-corp, from the server or from coi-serviceworker on a static host).
 */
function wasmThreads(): Pick<BackendInfo, 'threads' | 'isolated' | 'threadsReason'> {
	const isolated = self.crossOriginIsolated === true;
	if (!isolated) return { threads: 1, isolated, threadsReason: 'not cross-origin isolated: no SharedArrayBuffer' };
	return { threads: Math.max(1, Math.min(navigator.hardwareConcurrency || 1, MAX_THREADS)), isolated };
}

export async function buildEngine(model: LoadedModel, choice: BackendChoice): Promise<{ engine: Engine; info: BackendInfo }> {
	const { backend, reason } = await resolveBackend(choice);
	const threading = wasmThreads();
	const engine = await createWebEngine(model, { backend, wasmPaths: { wasm: new URL(ortWasmUrl, self.location.href).href }, numThreads: threading.threads });
	const running = engine.backend === 'webgpu' ? 'webgpu' : 'wasm';
	return { engine, info: { backend: running, requested: choice, reason: engine.fallbackReason ?? reason, ...threading } };
}

export async function load(spec: ModelSourceSpec, choice: BackendChoice, progress: (p: LoadProgress) => void, maxBytes?: number): Promise<ModelInfo> {
	const model = await loadModel(sourceOf(spec), {
		onProgress: ({ file, loaded, total }) => progress({ phase: 'download', file, loaded, total }),
		maxBytes
	});
	progress({ phase: 'build' });
	const { engine, info } = await buildEngine(model, choice);
	const old = current;
	current = { model, engine, info };
	await old?.engine.dispose();
	let params = 0;
	for (const w of model.weights.values()) params += numel(w.shape);
	return { ...info, id: model.source.id, revision: model.source.revision, weightsSha256: model.source.weightsSha256, spec: model.spec, params, tokenizer: { ...model.tokenizerFiles, modelConfig: model.config } };
}

export async function setBackend(choice: BackendChoice, progress: (p: LoadProgress) => void): Promise<BackendInfo> {
	const s = session();
	progress({ phase: 'build' });
	const { engine, info } = await buildEngine(s.model, choice);
	const old = s.engine;
	current = { model: s.model, engine, info };
	await old.dispose();
	return info;
}
