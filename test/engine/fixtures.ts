// Reads the reference's golden fixtures (models/train/make_fixtures.py): every test/fixtures/*.json
// manifest that has a companion .safetensors, with its tensors decoded (F32 -> Tensor, I64 -> rows).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSafetensors, toFloat32, type RawTensor } from '../../src/lib/core/model/safetensors';
import type { Tensor } from '../../src/lib/core/model/tensor';

export const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const DIR = join(ROOT, 'test/fixtures');

export interface Manifest {
	name: string;
	/** Model folder relative to the repository root. */
	model: string;
	tolerance: number;
	tokens: number[][];
	captures: { prompt: number; hooks: string[] }[];
	interventions: Record<string, { inputs: string[]; description: string }>;
}

/** Names of the parity fixtures present (tiny models now, shipped models once trained). */
export function fixtureNames(): string[] {
	return readdirSync(DIR)
		.filter((f) => f.endsWith('.json') && existsSync(join(DIR, f.replace(/\.json$/, '.safetensors'))))
		.map((f) => f.replace(/\.json$/, ''))
		.filter((name) => {
			const m = JSON.parse(readFileSync(join(DIR, `${name}.json`), 'utf8'));
			return m.captures && m.interventions && m.model;
		})
		.sort();
}

export interface Fixture {
	manifest: Manifest;
	modelDir: string;
	float(name: string): Tensor;
	int(name: string): number[][];
}

export function readFixture(name: string): Fixture {
	const manifest = JSON.parse(readFileSync(join(DIR, `${name}.json`), 'utf8')) as Manifest;
	const file = `${name}.safetensors`;
	const tensors = parseSafetensors(file, new Uint8Array(readFileSync(join(DIR, file))));
	const raw = (key: string): RawTensor => {
		const t = tensors.get(key);
		if (!t) throw new Error(`${file}: no tensor '${key}'`);
		return t;
	};
	return {
		manifest,
		modelDir: join(ROOT, manifest.model),
		float: (key) => ({ data: toFloat32(file, key, raw(key)), shape: raw(key).shape }),
		int(key) {
			const t = raw(key);
			if (t.dtype !== 'I64' || t.shape.length !== 2) throw new Error(`${file}: '${key}' is ${t.dtype} [${t.shape}], expected I64 [B, T]`);
			const values = new BigInt64Array(t.bytes.slice().buffer);
			const [rows, cols] = t.shape;
			return Array.from({ length: rows }, (_, r) => Array.from(values.subarray(r * cols, (r + 1) * cols), Number));
		}
	};
}

/** max |a - b| over matching shapes; equal infinities count as equal, anything else non-finite as Infinity. */
export function maxAbsDiff(a: Tensor, b: Tensor): number {
	if (a.shape.join() !== b.shape.join()) throw new Error(`shape [${a.shape}] != [${b.shape}]`);
	let max = 0;
	for (let i = 0; i < a.data.length; i++) {
		const [x, y] = [a.data[i], b.data[i]];
		if (x === y) continue;
		const d = Math.abs(x - y);
		if (!(d <= max)) max = Number.isNaN(d) ? Infinity : d;
	}
	return max;
}

/** Drops a leading batch dimension of 1. */
export const unbatch = (t: Tensor): Tensor => {
	if (t.shape[0] !== 1) throw new Error(`expected batch 1, got [${t.shape}]`);
	return { data: t.data, shape: t.shape.slice(1) };
};
