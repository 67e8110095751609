// Node entry: engines on onnxruntime-node (native CPU kernels). The browser bundle never imports this file.
import * as ort from 'onnxruntime-node';
import type { OrtModule } from './backends';
import { createEngine, type Engine, type EngineOptions, type ModelLike } from './engine';

export const nodeOrt: OrtModule = ort;

export function createNodeEngine(
	model: ModelLike,
	options: Omit<EngineOptions, 'ort' | 'backend'> = {}
): Promise<Engine> {
	return createEngine(model, { ...options, ort, backend: 'node' });
}
