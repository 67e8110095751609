// onnxruntime-web on WASM outside the browser (Node: CLI --backend wasm, parity tests). The browser
// uses web.ts: the WebGPU build of onnxruntime-web needs browser APIs and fails to start in Node.
import * as ort from 'onnxruntime-web';
import { createEngine, type Engine, type EngineOptions, type ModelLike } from './engine';

export function createWasmNodeEngine(
	model: ModelLike,
	options: Omit<EngineOptions, 'ort' | 'backend'> = {}
): Promise<Engine> {
	return createEngine(model, { ...options, ort, backend: 'wasm' });
}
