// Shared helpers of the scan tests: the reference fixtures that carry full scans (every manifest with
// `scans` whose model folder exists: tiny models now, shipped models once trained), loaded with an
// onnxruntime-node engine and the fixture's prompt set.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { folderSource } from '../../src/cli/node-source';
import { encodePromptSet, type PromptSet } from '../../src/lib/core/experiments/prompts';
import { loadModel, type LoadedModel } from '../../src/lib/core/model/index';
import type { Tensor } from '../../src/lib/core/model/tensor';
import type { Engine } from '../../src/lib/core/runtime/engine';
import { createNodeEngine } from '../../src/lib/core/runtime/node';
import type { PromptRecord } from '../../src/lib/core/tasks/promptFile';
import { readFixture, ROOT, type Fixture } from '../engine/fixtures';

export interface ScanManifest {
	name: string;
	model: string;
	tolerance: number;
	prompts: PromptRecord[];
	resample_perm: number[];
	scans: Record<string, { clean?: Record<string, number>; corrupt?: Record<string, number> }>;
}

const DIR = join(ROOT, 'test/fixtures');

/** Fixture names with reference scans and a model folder. */
export function scanFixtureNames(): string[] {
	return readdirSync(DIR)
		.filter((f) => f.endsWith('.json') && existsSync(join(DIR, f.replace(/\.json$/, '.safetensors'))))
		.map((f) => f.replace(/\.json$/, ''))
		.filter((name) => {
			const m = JSON.parse(readFileSync(join(DIR, `${name}.json`), 'utf8'));
			return m.scans && m.model && existsSync(join(ROOT, m.model, 'config.json'));
		})
		.sort();
}

export interface Loaded {
	fx: Fixture;
	manifest: ScanManifest;
	model: LoadedModel;
	engine: Engine;
	set: PromptSet;
	/** Tensor names in the fixture's safetensors. */
	has(name: string): boolean;
}

export async function loadScanFixture(name: string): Promise<Loaded> {
	const fx = readFixture(name);
	const manifest = JSON.parse(readFileSync(join(DIR, `${name}.json`), 'utf8')) as ScanManifest;
	const model = await loadModel(folderSource(fx.modelDir));
	const engine = await createNodeEngine(model);
	const set = encodePromptSet(model.tokenizer, manifest.prompts, model.spec.n_ctx);
	const has = (t: string) => {
		try {
			fx.float(t);
			return true;
		} catch {
			return false;
		}
	};
	return { fx, manifest, model, engine, set, has };
}

export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
	expect(a.length, 'lengths').toBe(b.length);
	let m = 0;
	for (let i = 0; i < a.length; i++) {
		if (a[i] === b[i] || (Number.isNaN(a[i]) && Number.isNaN(b[i]))) continue;
		const d = Math.abs(a[i] - b[i]);
		m = Number.isNaN(d) ? Infinity : Math.max(m, d);
	}
	return m;
}

/** Asserts got ≈ want within tol, printing the max difference. */
export function expectClose(label: string, got: Tensor | ArrayLike<number>, want: Tensor | ArrayLike<number>, tol: number): void {
	const g = 'data' in got ? got.data : got;
	const w = 'data' in want ? want.data : want;
	if ('shape' in got && 'shape' in want) expect(got.shape, `${label} shape`).toEqual(want.shape);
	const d = maxDiff(g, w);
	console.log(`${label}: max |diff| ${d.toExponential(2)}`);
	expect(d, `${label}: max |diff| ${d} > ${tol}`).toBeLessThanOrEqual(tol);
}
