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

/** The files of a fixture model folder, by name, for building mutated in-memory copies. */
export function folderFiles(name: string): Map<string, Uint8Array> {
	const dir = join(FIXTURES, 'models', name);
	return new Map(readdirSync(dir).map((f) => [f, new Uint8Array(readFileSync(join(dir, f)))]));
}

/** Split a safetensors file into its JSON header and data bytes (no validation: for building test inputs). */
export function splitSafetensors(bytes: Uint8Array): { header: Record<string, any>; data: Uint8Array } {
	const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
	return { header: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))), data: bytes.subarray(8 + n) };
}

export function joinSafetensors(header: unknown, data: Uint8Array): Uint8Array {
	const head = new TextEncoder().encode(JSON.stringify(header));
	const out = new Uint8Array(8 + head.length + data.length);
	new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
	out.set(head, 8);
	out.set(data, 8 + head.length);
	return out;
}

export const jsonBytes = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
export const parseBytes = (b: Uint8Array) => JSON.parse(new TextDecoder().decode(b));
