// The execution backends as one frozen table, and the slice of the onnxruntime API the engine uses.
// Types here are structural so this file never imports onnxruntime-*: entry files (node.ts, web.ts)
// pass the module they imported.

export type BackendName = 'node' | 'wasm' | 'webgpu';

/** What the engine needs from onnxruntime-node / onnxruntime-web (both satisfy it). */
export interface OrtTensor {
	readonly data: unknown;
	readonly dims: readonly number[];
	readonly type: string;
	dispose(): void;
}
export interface OrtSession {
	run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
	release(): Promise<void>;
}
export interface OrtModule {
	InferenceSession: {
		create(
			model: Uint8Array,
			options?: {
				executionProviders?: readonly string[];
				/** Initializer data kept outside the model, matched by path to the model's external_data locations. */
				externalData?: readonly { path: string; data: Uint8Array }[];
				/** Session config entries, e.g. { optimization: { disable_specified_optimizers: 'ConstantFolding' } }. */
				extra?: Record<string, unknown>;
			}
		): Promise<OrtSession>;
	};
	Tensor: new (type: 'float32' | 'int64', data: Float32Array | BigInt64Array, dims: readonly number[]) => OrtTensor;
	env: { versions: { node?: string; web?: string }; wasm: { wasmPaths?: unknown; numThreads?: number } };
}

export interface Backend {
	/** Which package must supply the ort module. */
	readonly runtime: 'node' | 'web';
	readonly executionProviders: readonly string[];
	/** Used when this backend cannot start (the reason is recorded on the engine). */
	readonly fallback?: BackendName;
	/** Why this backend cannot run here, or undefined when it might. */
	unavailable?(): Promise<string | undefined>;
}

interface GpuNavigator {
	gpu?: { requestAdapter(): Promise<unknown | null> };
}

async function webgpuUnavailable(): Promise<string | undefined> {
	const gpu = (globalThis.navigator as GpuNavigator | undefined)?.gpu;
	if (!gpu) return 'WebGPU is not available here (no navigator.gpu)';
	try {
		if (!(await gpu.requestAdapter())) return 'WebGPU is present but gave no adapter';
	} catch (e) {
		return `WebGPU adapter request failed: ${(e as Error).message}`;
	}
	return undefined;
}

export const BACKENDS: Readonly<Record<BackendName, Backend>> = Object.freeze({
	/** Native CPU kernels (onnxruntime-node): CLI and tests. */
	node: Object.freeze({ runtime: 'node', executionProviders: Object.freeze(['cpu']) }),
	/** WebAssembly CPU kernels (onnxruntime-web): every browser, and plain Node. */
	wasm: Object.freeze({ runtime: 'web', executionProviders: Object.freeze(['wasm']) }),
	/** GPU kernels in the browser (onnxruntime-web/webgpu); falls back to wasm. */
	webgpu: Object.freeze({
		runtime: 'web',
		executionProviders: Object.freeze(['webgpu']),
		fallback: 'wasm',
		unavailable: webgpuUnavailable
	})
} satisfies Record<BackendName, Backend>);
