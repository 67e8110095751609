// Browser entry: engines on onnxruntime-web's WebGPU build (which also holds the WASM backend), so the
// bundle carries exactly one copy of onnxruntime-web and Vite emits its .wasm on our own origin.
import * as ort from 'onnxruntime-web/webgpu';
import { createEngine, type Engine, type EngineOptions, type ModelLike } from './engine';

export function createWebEngine(
	model: ModelLike,
	options: Omit<EngineOptions, 'ort' | 'backend'> & { backend?: 'webgpu' | 'wasm' } = {}
): Promise<Engine> {
	return createEngine(model, { ...options, ort, backend: options.backend ?? 'webgpu' });
}
