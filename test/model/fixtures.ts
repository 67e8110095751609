// Shared helpers for the model-loading tests: the reference fixture manifests and their models.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Spec } from '../../src/lib/core/model/spec';

export const FIXTURES = join(import.meta.dirname, '..', 'fixtures');
export const ROOT = join(FIXTURES, '..', '..');

export interface Manifest {
	name: string;
	model: string;
	spec: Spec;
	prompts: { prompt: string; answer: string; counterfactual?: { prompt: string; answer: string } }[];
	tokens: number[][];
	answer_tokens: number[][];
	captures: { prompt: number; hooks: string[] }[];
}

/** Every fixture manifest whose model folder exists (tiny models now, shipped models once trained). */
export function manifests(): Manifest[] {
	return readdirSync(FIXTURES)
		.filter((f) => f.endsWith('.json'))
		.map((f) => JSON.parse(readFileSync(join(FIXTURES, f), 'utf8')) as Manifest)
		.filter((m) => typeof m.model === 'string' && existsSync(join(ROOT, m.model)));
}

export const modelDir = (m: Manifest) => join(ROOT, m.model);
export const tinyModelDirs = () => readdirSync(join(FIXTURES, 'models'));
