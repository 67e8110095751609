// The backends the CLI offers, imported on demand so a run loads one onnxruntime package, and --help none.
import type { LoadedModel } from '../lib/core/model/index';
import type { Engine } from '../lib/core/runtime/engine';

export const CLI_BACKENDS = {
	/** onnxruntime-node: native CPU kernels, the fastest in Node. */
	node: async (m: LoadedModel): Promise<Engine> => (await import('../lib/core/runtime/node')).createNodeEngine(m),
	/** onnxruntime-web on WebAssembly: the browser's CPU kernels, to reproduce what the dashboard computes. */
	wasm: async (m: LoadedModel): Promise<Engine> => (await import('../lib/core/runtime/web-node')).createWasmNodeEngine(m)
} as const;

export type CliBackend = keyof typeof CLI_BACKENDS;
