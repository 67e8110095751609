// loadModel on every reference fixture model: the spec equals the one the PyTorch reference used and
// the weights have exactly the canonical names and shapes.
import { describe, expect, it } from 'vitest';
import { folderSource } from '../../src/cli/node-source';
import { loadModel } from '../../src/lib/core/model/index';
import { canonicalShapes } from '../../src/lib/core/model/spec';
import { readFixture } from '../engine/fixtures';
import { manifests, modelDir, tinyModelDirs } from './fixtures';

const all = manifests();

describe('loadModel on the fixture models', () => {
	it('has a manifest for every folder under test/fixtures/models', () => {
		const covered = new Set(all.map((m) => m.name));
		expect(tinyModelDirs().filter((d) => !covered.has(d))).toEqual([]);
	});

	for (const m of all) {
		it(`${m.name}: spec and canonical weight shapes`, async () => {
			const model = await loadModel(folderSource(modelDir(m)));
			expect(model.spec).toEqual(m.spec);
			const expected = Object.fromEntries([...canonicalShapes(m.spec)]);
			const got = Object.fromEntries([...model.weights].map(([n, t]) => [n, t.shape]));
			expect(got).toEqual(expected);
			// weights stay at the precision they are stored in (the f16 and bf16 fixtures are half throughout)
			const half = /-(b?f16)(-|$)/.exec(m.name)?.[1];
			for (const [name, t] of model.weights) {
				expect(t.data, name).toBeInstanceOf(half ? Uint16Array : Float32Array);
				expect('dtype' in t ? t.dtype : undefined, name).toBe(half && { f16: 'float16', bf16: 'bfloat16' }[half]);
				expect(t.data.length, name).toBe(t.shape.reduce((a, b) => a * b, 1));
			}
			const wide = await loadModel(folderSource(modelDir(m)), { precision: 'float32' });
			for (const [name, t] of wide.weights) {
				expect(t.data, name).toBeInstanceOf(Float32Array);
				expect(t.data.every(Number.isFinite), `${name} has non-finite values`).toBe(true);
			}
			expect(model.source.weightsSha256).toMatch(/^[0-9a-f]{64}$/);
		});
	}
});

describe('sharded checkpoints stream one shard at a time', () => {
	// each shard's tensors are converted when it is read (weights.ts), so no weight may keep a shard's bytes alive
	it.each(['tiny-llama-untied-sharded', 'tiny-qwen2-bf16-sharded'])('%s: every shard is read and no weight keeps a file\'s bytes', async (name) => {
		const src = folderSource(readFixture(name).modelDir);
		const read: string[] = [];
		const buffers = new Set<ArrayBufferLike>();
		const model = await loadModel({
			...src,
			read: async (file, onProgress) => {
				const bytes = await src.read(file, onProgress);
				read.push(file);
				if (bytes) buffers.add(bytes.buffer);
				return bytes;
			}
		});
		const shards = read.filter((f) => /^model-\d+-of-\d+\.safetensors$/.test(f));
		expect(shards.length).toBeGreaterThan(1);
		for (const w of model.weights.values()) expect(buffers.has(w.data.buffer)).toBe(false);
	});
});
