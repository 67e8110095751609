// Node entry: engines on onnxruntime-node (native CPU kernels). The browser bundle never imports this file.
import * as ort from 'onnxruntime-node';
import { createEngine, type Engine, type EngineOptions, type ModelLike } from './engine';

export function createNodeEngine(
	model: ModelLike,
	options: Omit<EngineOptions, 'ort' | 'backend'> = {}
): Promise<Engine> {
	return createEngine(model, { ...options, ort, backend: 'node' });
}
