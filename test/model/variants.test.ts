// Checkpoint spellings the fixtures do not cover directly: GPT-2 without the `transformer.` prefix
// (GPT2Model) and TransformerLens grouped-query attention stored as attn._W_K / attn._W_V.
import { describe, expect, it } from 'vitest';
import { filesSource, loadModel } from '../../src/lib/core/model/index';
import { parseSafetensors, toFloat32 } from '../../src/lib/core/model/safetensors';
import { folderFiles, joinSafetensors, jsonBytes, parseBytes, splitSafetensors } from './fixtures';

function writeSafetensors(tensors: Map<string, { shape: number[]; data: Float32Array }>): Uint8Array {
	const header: Record<string, unknown> = {};
	const parts: Uint8Array[] = [];
	let offset = 0;
	for (const [name, t] of tensors) {
		const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
		header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + bytes.length] };
		parts.push(bytes);
		offset += bytes.length;
	}
	const data = new Uint8Array(offset);
	parts.reduce((at, p) => (data.set(p, at), at + p.length), 0);
	return joinSafetensors(header, data);
}

describe('checkpoint name variants', () => {
	it('GPT-2 names without the transformer. prefix load the same weights', async () => {
		const files = folderFiles('tiny-gpt2');
		const want = await loadModel(filesSource(new Map(files)));
		const { header, data } = splitSafetensors(files.get('model.safetensors')!);
		const bare = Object.fromEntries(Object.entries(header).map(([k, v]) => [k.replace(/^transformer\./, ''), v]));
		files.set('model.safetensors', joinSafetensors(bare, data));
		const got = await loadModel(filesSource(files));
		for (const [name, t] of want.weights) expect(got.weights.get(name)!.data, name).toEqual(t.data);
	});

	it('TransformerLens GQA weights under attn._W_K / _W_V / _b_K / _b_V', async () => {
		const files = folderFiles('tl-ln-gelu-standard');
		const KV = 2;
		const raw = parseSafetensors('model.safetensors', files.get('model.safetensors')!);
		const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
		for (const [name, t] of raw) {
			const data = toFloat32('model.safetensors', name, t);
			const m = name.match(/^(blocks\.\d+\.attn\.)(W|b)_([KV])$/);
			if (!m) tensors.set(name, { shape: t.shape, data });
			else {
				// keep the first KV heads: [n_heads, ...] -> [KV, ...]
				const perHead = data.length / t.shape[0];
				tensors.set(`${m[1]}_${m[2]}_${m[3]}`, { shape: [KV, ...t.shape.slice(1)], data: data.slice(0, KV * perHead) });
			}
		}
		files.set('model.safetensors', writeSafetensors(tensors));
		const cfg = parseBytes(files.get('config.json')!);
		files.set('config.json', jsonBytes({ ...cfg, n_key_value_heads: KV }));
		const model = await loadModel(filesSource(files));
		expect(model.spec.n_kv_heads).toBe(KV);
		expect(model.weights.get('blocks.1.W_K')!.shape).toEqual([KV, 16, 4]);
		expect(model.weights.get('blocks.1.W_K')!.data).toEqual(tensors.get('blocks.1.attn._W_K')!.data);
		expect(model.weights.get('blocks.0.b_V')!.data).toEqual(tensors.get('blocks.0.attn._b_V')!.data);
		expect(model.weights.get('blocks.0.W_Q')!.shape).toEqual([4, 16, 4]);
	});
});
