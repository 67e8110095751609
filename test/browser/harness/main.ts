// Browser parity harness: the real core in a page (loader over HTTP with urlSource, engine on
// onnxruntime-web/webgpu), exposed as window.harness for test/browser/parity.test.ts. It only runs
// the model and returns plain arrays; the test compares them with the reference fixtures in Node.
import type { HookName } from '../../../src/lib/core/model/hooks';
import { loadModel, urlSource } from '../../../src/lib/core/model/index';
import type { Tensor } from '../../../src/lib/core/model/tensor';
import type { Interventions } from '../../../src/lib/core/runtime/engine';
import { createWebEngine } from '../../../src/lib/core/runtime/web';

/** A tensor as page.evaluate can carry it (typed arrays become plain number arrays). */
export interface PlainTensor {
	data: number[];
	shape: number[];
}

export interface ParityRequest {
	/** Model folder URL, relative to the page (e.g. 'test/fixtures/models/tiny-gpt2'). */
	model: string;
	backend: 'wasm' | 'webgpu';
	/** loadModel's precision (default 'auto'): 'float16' narrows an F32 fixture to F16. */
	precision?: 'auto' | 'float16';
	captures: { tokens: number[]; hooks: string[] }[];
	interventions: { tokens: number[][]; inputs: Record<string, PlainTensor> }[];
}

export interface ParityResult {
	backend: string;
	fallbackReason: string | null;
	captures: { logits: PlainTensor; cache: Record<string, PlainTensor> }[];
	interventions: PlainTensor[];
	milliseconds: { load: number; engine: number; runs: number };
}

export interface AdapterReport {
	isFallbackAdapter: boolean | null;
	vendor: string;
	architecture: string;
	description: string;
}

interface GpuAdapterLike {
	isFallbackAdapter?: boolean;
	info?: { vendor?: string; architecture?: string; description?: string; isFallbackAdapter?: boolean };
}
interface GpuNavigator {
	gpu?: { requestAdapter(): Promise<GpuAdapterLike | null> };
}

const plain = (t: Tensor): PlainTensor => ({ data: Array.from(t.data), shape: [...t.shape] });
const typed = (t: PlainTensor): Tensor => ({ data: Float32Array.from(t.data), shape: t.shape });

/** The WebGPU adapter the browser gives this page, or null (so the test can fail instead of falling back). */
async function gpuAdapter(): Promise<AdapterReport | null> {
	const adapter = await (navigator as GpuNavigator).gpu?.requestAdapter();
	if (!adapter) return null;
	const info = adapter.info ?? {};
	return {
		isFallbackAdapter: info.isFallbackAdapter ?? adapter.isFallbackAdapter ?? null,
		vendor: info.vendor ?? '',
		architecture: info.architecture ?? '',
		description: info.description ?? ''
	};
}

async function parity(req: ParityRequest): Promise<ParityResult> {
	const t0 = performance.now();
	const model = await loadModel(urlSource(new URL(req.model, location.href).href), { precision: req.precision });
	const t1 = performance.now();
	// Our own origin serves the .wasm (copied from onnxruntime-web/dist); no thread pool without
	// cross-origin isolation.
	const engine = await createWebEngine(model, { backend: req.backend, wasmPaths: new URL('ort/', location.href).href, numThreads: 1 });
	const t2 = performance.now();
	try {
		const captures: ParityResult['captures'] = [];
		for (const { tokens, hooks } of req.captures) {
			const { logits, cache } = await engine.run([tokens], { hooks: hooks as HookName[] });
			captures.push({ logits: plain(logits), cache: Object.fromEntries([...cache].map(([name, t]) => [name, plain(t)])) });
		}
		const interventions: PlainTensor[] = [];
		for (const { tokens, inputs } of req.interventions) {
			const iv: Interventions = {};
			for (const [name, t] of Object.entries(inputs)) iv[name as keyof Interventions] = typed(t);
			interventions.push(plain((await engine.run(tokens, { interventions: iv })).logits));
		}
		return {
			backend: engine.backend,
			fallbackReason: engine.fallbackReason ?? null,
			captures,
			interventions,
			milliseconds: { load: t1 - t0, engine: t2 - t1, runs: performance.now() - t2 }
		};
	} finally {
		await engine.dispose();
	}
}

const harness = { parity, gpuAdapter, ready: true };
export type Harness = typeof harness;
(window as unknown as { harness: Harness }).harness = harness;
