// Half precision and how weights reach onnxruntime: F16/BF16 fixtures stay half and are cast where
// used, both when onnxruntime folds the casts into f32 (small models) and when it keeps them half
// (maxWidenedBytes 0, as past 1 GiB); F32 checkpoints narrowed to F16 on request; floatToHalf's
// rounding; weights as external data; rotary tables of min(n_ctx, 8192) rows, not max_position_embeddings.
import { afterAll, describe, expect, it } from 'vitest';
import { folderSource } from '../../src/cli/node-source';
import { buildGraph, buildModel } from '../../src/lib/core/graph';
import type { HookName } from '../../src/lib/core/model/hooks';
import { filesSource, loadModel, type LoadedModel } from '../../src/lib/core/model/index';
import { minOf } from '../../src/lib/core/model/arrays';
import { floatToHalf, toFloat32 } from '../../src/lib/core/model/safetensors';
import { isHalf, type Tensor, type Weight } from '../../src/lib/core/model/tensor';
import type { Engine } from '../../src/lib/core/runtime/engine';
import { createNodeEngine } from '../../src/lib/core/runtime/node';
import { createWasmNodeEngine } from '../../src/lib/core/runtime/web-node';
import { fixtureNames, maxAbsDiff, readFixture, unbatch } from './fixtures';

const engines: Engine[] = [];
afterAll(() => Promise.all(engines.map((e) => e.dispose())));
const keep = (e: Engine) => (engines.push(e), e);

/** A half weight's values as f32 (the numbers the graph computes with). */
const widen = (w: Weight): Tensor =>
	isHalf(w) ? { data: toFloat32('test', 'w', { dtype: w.dtype === 'float16' ? 'F16' : 'BF16', shape: w.shape, bytes: new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength) }), shape: w.shape } : w;

describe('floatToHalf', () => {
	it('round-trips every finite float16 and rounds to nearest even, with overflow, subnormals and signed zero', () => {
		const back = (h: number) => toFloat32('t', 'h', { dtype: 'F16', shape: [1], bytes: new Uint8Array(new Uint16Array([h]).buffer) })[0];
		for (let h = 0; h < 0x10000; h++) {
			if ((h & 0x7c00) === 0x7c00 && h & 0x3ff) continue; // NaNs
			expect(floatToHalf(back(h))).toBe(h);
		}
		const cases: [number, number][] = [
			[1 + 2 ** -11, 0x3c00], // a tie rounds to the even mantissa (down)
			[1 + 3 * 2 ** -11, 0x3c02], // a tie rounds to the even mantissa (up)
			[1 + 2 ** -11 + 2 ** -20, 0x3c01], // above the tie rounds up
			[65504, 0x7bff], [65519, 0x7bff], [65520, 0x7c00], [1e6, 0x7c00], [-1e6, 0xfc00],
			[2 ** -24, 0x0001], [2 ** -25, 0x0000], [1.5 * 2 ** -25, 0x0001], [3 * 2 ** -25, 0x0002], // subnormals
			[-0, 0x8000], [Infinity, 0x7c00]
		];
		for (const [x, h] of cases) expect(floatToHalf(x), String(x)).toBe(h);
		expect(Number.isNaN(back(floatToHalf(NaN)))).toBe(true);
	});
});

describe.each(['tiny-llama-f16', 'tiny-qwen2-bf16-sharded'])('%s (stored half)', (name) => {
	const fx = readFixture(name);
	it.each(['node', 'wasm'] as const)('keeps its weights half and matches the reference with casts folded or at use (%s)', async (backend) => {
		const model = await loadModel(folderSource(fx.modelDir));
		expect([...model.weights.values()].every(isHalf)).toBe(true);
		const create = backend === 'node' ? createNodeEngine : createWasmNodeEngine;
		for (const maxWidenedBytes of [undefined, 0]) {
			const engine = keep(await create(model, { maxWidenedBytes }));
			for (const { prompt, hooks } of fx.manifest.captures) {
				const { logits, cache } = await engine.run([fx.manifest.tokens[prompt]], { hooks: hooks as HookName[] });
				expect(maxAbsDiff(unbatch(logits), fx.float(`capture.${prompt}.logits`))).toBeLessThanOrEqual(fx.manifest.tolerance);
				for (const h of hooks as HookName[]) expect(maxAbsDiff(unbatch(cache.get(h)!), fx.float(`capture.${prompt}.${h}`)), h).toBeLessThanOrEqual(fx.manifest.tolerance);
			}
		}
	});
});

describe.each(fixtureNames().filter((n) => !/-b?f16/.test(n)))('%s loaded as float16', (name) => {
	const fx = readFixture(name);
	it('computes exactly on the rounded weights, within 5e-2 of the f32 reference (node and wasm)', async () => {
		const half = await loadModel(folderSource(fx.modelDir), { precision: 'float16' });
		expect([...half.weights.values()].every((w) => isHalf(w) && w.dtype === 'float16')).toBe(true);
		// the same numbers in f32: what the half graph must compute, to float32 rounding
		const rounded: LoadedModel = { ...half, weights: new Map([...half.weights].map(([n, w]) => [n, widen(w)])) };
		const [h, w, r] = [keep(await createNodeEngine(half)), keep(await createWasmNodeEngine(half)), keep(await createNodeEngine(rounded))];
		const tokens = fx.manifest.tokens.slice(0, 1);
		const [a, b, c] = [(await h.run(tokens)).logits, (await w.run(tokens)).logits, (await r.run(tokens)).logits];
		expect(maxAbsDiff(a, c)).toBeLessThanOrEqual(1e-5);
		expect(maxAbsDiff(b, c)).toBeLessThanOrEqual(fx.manifest.tolerance);
		const vsReference = maxAbsDiff(unbatch(a), fx.float('capture.0.logits'));
		console.log(`${name} float16 vs f32 reference logits: max |diff| ${vsReference.toExponential(2)}`);
		expect(vsReference).toBeLessThanOrEqual(5e-2);
	});
});

describe('weights reach onnxruntime as external data', () => {
	it('keeps the ModelProto small and points every large initializer at a view of its weight', async () => {
		const model = await loadModel(folderSource(readFixture('tiny-gpt2').modelDir));
		const inline = buildGraph(model.spec, model.weights);
		const ext = buildModel(model.spec, model.weights, {}, 1); // the fixture's weights are all under the engine's 4 KiB
		expect(ext.externalData.length).toBeGreaterThan(0);
		expect(ext.model.length).toBeLessThan(inline.length - ext.externalData.reduce((n, f) => n + f.data.length, 0) + 64 * ext.externalData.length);
		// every canonical weight but the per-head Q/K/V (laid out as one [D, heads*dh] matrix) is passed as a view of its own bytes
		for (const [name, w] of model.weights) {
			if (/\.W_[QKV]$/.test(name)) continue;
			const own = ext.externalData.some((f) => f.data.buffer === w.data.buffer && f.data.byteOffset === w.data.byteOffset && f.data.byteLength === w.data.byteLength);
			expect(own, `${name} is not passed as a view of its weight`).toBe(true);
		}
	});
});

describe('rotary positions', () => {
	it('a GPT-2 config claiming 10^8 positions stores a real W_pos that large (6.4 GB): refused before any weight is read', async () => {
		const src = folderSource(readFixture('tiny-gpt2').modelDir);
		const read: string[] = [];
		const config = JSON.parse(new TextDecoder().decode((await src.read('config.json'))!));
		const files = filesSource(new Map([['config.json', new TextEncoder().encode(JSON.stringify({ ...config, n_positions: 1e8 }))]]));
		const err = await loadModel({ ...files, read: (n) => (read.push(n), files.read(n)) }).catch((e: Error) => e);
		expect(String(err)).toMatch(/needs about .* GiB .*above the limit of 2 GiB/);
		expect(read).toEqual(['config.json']);
	});

	it('a Llama config claiming 10^7 positions loads and runs 4 prompts with rotary tables of 8192 rows, not 10^7', async () => {
		const fx = readFixture('tiny-llama-gqa');
		const files = new Map<string, Uint8Array>();
		const src = folderSource(fx.modelDir);
		for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']) {
			const b = await src.read(f);
			if (b) files.set(f, b);
		}
		const config = JSON.parse(new TextDecoder().decode(files.get('config.json')!));
		files.set('config.json', new TextEncoder().encode(JSON.stringify({ ...config, max_position_embeddings: 1e7 })));
		const before = process.memoryUsage().rss;
		const model = await loadModel(filesSource(files));
		expect(model.spec.n_ctx).toBe(1e7);
		const engine = keep(await createNodeEngine(model));
		const tokens = fx.manifest.tokens.slice(0, 4);
		const T = minOf(tokens.map((t) => t.length));
		const { logits } = await engine.run(tokens.map((t) => t.slice(0, T)));
		const grown = (process.memoryUsage().rss - before) / 2 ** 20;
		console.log(`10^7-position llama: RSS grew ${grown.toFixed(0)} MB`);
		expect(grown).toBeLessThan(500); // a table of 10^7 rows would take gigabytes
		expect(maxAbsDiff({ data: logits.data.subarray(0, T * model.spec.d_vocab), shape: [T, model.spec.d_vocab] }, { ...fx.float('capture.0.logits'), data: fx.float('capture.0.logits').data.subarray(0, T * model.spec.d_vocab), shape: [T, model.spec.d_vocab] })).toBeLessThanOrEqual(fx.manifest.tolerance);
	});
});
