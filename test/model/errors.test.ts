// Every way a model folder can be broken gives a ModelLoadError that names the file and the problem.
import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_BYTES, ModelLoadError, estimateBytes, filesSource, loadModel } from '../../src/lib/core/model/index';
import { specFromConfig } from '../../src/lib/core/model/config';
import { parseSafetensors, toFloat32 } from '../../src/lib/core/model/safetensors';
import { folderFiles, joinSafetensors, jsonBytes, parseBytes, splitSafetensors } from './fixtures';

const WEIGHTS = 'model.safetensors';

/** Load tiny-gpt2 after `edit` changed its files; resolves to the error thrown. */
async function loadError(edit: (files: Map<string, Uint8Array>) => void, opts = {}): Promise<ModelLoadError> {
	const files = folderFiles('tiny-gpt2');
	edit(files);
	try {
		await loadModel(filesSource(files, 'tiny-gpt2'), opts);
	} catch (e) {
		expect(e).toBeInstanceOf(ModelLoadError);
		return e as ModelLoadError;
	}
	throw new Error('expected the load to fail');
}

const editHeader = (f: (h: Record<string, any>) => void) => (files: Map<string, Uint8Array>) => {
	const { header, data } = splitSafetensors(files.get(WEIGHTS)!);
	f(header);
	files.set(WEIGHTS, joinSafetensors(header, data));
};

const editConfig = (f: (c: Record<string, any>) => void) => (files: Map<string, Uint8Array>) => {
	const cfg = parseBytes(files.get('config.json')!);
	f(cfg);
	files.set('config.json', jsonBytes(cfg));
};

describe('ModelLoadError', () => {
	it('names file and problem in its message', () => {
		const e = new ModelLoadError('config.json', "missing field 'n_embd'");
		expect([e.file, e.problem, e.message]).toEqual(['config.json', "missing field 'n_embd'", "config.json: missing field 'n_embd'"]);
	});

	it('truncated safetensors', async () => {
		const cut = (n: number) => (files: Map<string, Uint8Array>) => files.set(WEIGHTS, files.get(WEIGHTS)!.subarray(0, n));
		expect((await loadError(cut(5))).message).toMatch(/^model\.safetensors: truncated: 5 bytes/);
		expect((await loadError(cut(100))).problem).toMatch(/header length \d+ is beyond the file \(92 bytes/);
		const full = folderFiles('tiny-gpt2').get(WEIGHTS)!.length;
		expect((await loadError(cut(full - 1))).problem).toMatch(/data_offsets \[\d+, \d+\] outside the \d+ data bytes/);
	});

	it('a header length beyond the file fails before allocating it', () => {
		const bytes = new Uint8Array(16);
		new DataView(bytes.buffer).setBigUint64(0, 2n ** 60n, true);
		expect(() => parseSafetensors(WEIGHTS, bytes)).toThrow(/header length 1152921504606846976 is beyond the file \(8 bytes/);
	});

	it('garbled header, overlapping and out-of-range offsets, unknown dtype, shape/size mismatch', async () => {
		const garble = (files: Map<string, Uint8Array>) => {
			const b = files.get(WEIGHTS)!.slice();
			b.fill(0x7b, 8, 20); // '{{{{' inside the JSON header
			files.set(WEIGHTS, b);
		};
		expect((await loadError(garble)).problem).toMatch(/^garbled header/);
		const overlap = editHeader((h) => (h['transformer.h.0.ln_1.bias'].data_offsets = h['transformer.h.0.ln_1.weight'].data_offsets));
		expect((await loadError(overlap)).problem).toMatch(/'transformer\.h\.0\.ln_1\.(bias|weight)' and 'transformer\.h\.0\.ln_1\.(bias|weight)' have overlapping data_offsets/);
		const beyond = editHeader((h) => (h['transformer.wte.weight'].data_offsets = [0, 1e9]));
		expect((await loadError(beyond)).problem).toMatch(/tensor 'transformer\.wte\.weight': data_offsets \[0, 1000000000\] outside/);
		const dtype = editHeader((h) => (h['transformer.wte.weight'].dtype = 'F7'));
		expect((await loadError(dtype)).problem).toMatch(/tensor 'transformer\.wte\.weight': unknown dtype "F7" \(known: F64, F32, F16, BF16/);
		const size = editHeader((h) => (h['transformer.wte.weight'].shape = [21, 17]));
		expect((await loadError(size)).problem).toMatch(/tensor 'transformer\.wte\.weight': shape \[21,17\] of F32 needs a different size/);
	});

	it('a non-float tensor where a weight belongs', async () => {
		const ints = editHeader((h) => (h['transformer.ln_f.bias'].dtype = 'I32'));
		expect((await loadError(ints)).problem).toBe("tensor 'transformer.ln_f.bias' has dtype I32; weights must be F32, F16, BF16");
	});

	it('missing tensor and wrong shape', async () => {
		const missing = editHeader((h) => delete h['transformer.h.1.mlp.c_fc.weight']);
		expect((await loadError(missing)).message).toBe("model.safetensors: missing tensor 'transformer.h.1.mlp.c_fc.weight'");
		const shape = editHeader((h) => (h['transformer.h.0.mlp.c_fc.weight'].shape = [32, 16]));
		expect((await loadError(shape)).message).toBe("model.safetensors: tensor 'transformer.h.0.mlp.c_fc.weight' has shape [32,16], expected [16,32]");
	});

	it('config: missing field, bad values, unsupported model_type, bad JSON', async () => {
		expect((await loadError(editConfig((c) => delete c.n_embd))).message).toBe("config.json: missing field 'n_embd'");
		expect((await loadError(editConfig((c) => (c.n_head = 'four')))).message).toBe(`config.json: field 'n_head' must be a non-negative integer, got "four"`);
		expect((await loadError(editConfig((c) => (c.n_head = 3)))).message).toBe('config.json: n_embd 16 is not a multiple of n_head 3');
		expect((await loadError(editConfig((c) => (c.activation_function = 'gelu_fast')))).message).toBe(
			'config.json: field \'activation_function\' is "gelu_fast", supported: relu, gelu, gelu_new, silu'
		);
		const bert = await loadError(editConfig((c) => (c.model_type = 'bert')));
		expect(bert.message).toMatch(/^config\.json: unsupported model_type "bert" \(supported: gpt2, llama, qwen2, gpt_neox, or a TransformerLens config/);
		const badJson = await loadError((files) => files.set('config.json', new TextEncoder().encode('{"model_type": "gpt2",')));
		expect(badJson.message).toMatch(/^config\.json: bad JSON/);
		expect(() => specFromConfig([1, 2])).toThrow('config.json: not a JSON object');
		expect(() => specFromConfig({ model_type: 'llama', hidden_size: 16, num_attention_heads: 4, num_hidden_layers: 1,
			intermediate_size: 8, vocab_size: 4, rope_scaling: { rope_type: 'yarn', factor: 4 } })).toThrow('rope_scaling is not supported');
	});

	it('missing files and a bad shard index', async () => {
		expect((await loadError((f) => f.delete('config.json'))).message).toBe('config.json: not found in tiny-gpt2');
		expect((await loadError((f) => f.delete('tokenizer.json'))).message).toBe('tokenizer.json: not found in tiny-gpt2');
		expect((await loadError((f) => f.delete(WEIGHTS))).message).toBe(
			'model.safetensors: not found in tiny-gpt2, and neither is model.safetensors.index.json'
		);
		const escape = (f: Map<string, Uint8Array>) => {
			f.delete(WEIGHTS);
			f.set('model.safetensors.index.json', jsonBytes({ weight_map: { 'wte.weight': '../../secret' } }));
		};
		expect((await loadError(escape)).problem).toBe(`weight_map entry 'wte.weight' names "../../secret", not a plain file name`);
		const tok = await loadError((f) => f.set('tokenizer.json', jsonBytes({ version: '1.0' })));
		expect(tok.message).toBe("tokenizer.json: not a tokenizer: expected a JSON object with a 'model' entry");
	});

	it('refuses a model above maxBytes before reading its weights', async () => {
		const read: string[] = [];
		const files = folderFiles('tiny-gpt2');
		const src = filesSource(files);
		const tracking = { ...src, read: (name: string) => (read.push(name), src.read(name)) };
		const err = (await loadModel(tracking, { maxBytes: 100_000 }).catch((e) => e)) as ModelLoadError;
		expect(err).toBeInstanceOf(ModelLoadError);
		const need = estimateBytes(specFromConfig(JSON.parse(new TextDecoder().decode(files.get('config.json')!))));
		expect(err.message).toBe(
			`config.json: this model needs about ${Number((need / 1024 ** 3).toPrecision(3))} GiB (weights, onnxruntime's copy and activations), above the limit of 0.0000931 GiB; raise the memory limit (--max-memory <GiB> in the CLI) to load it anyway`
		);
		// the dashboard offers to load it anyway from these fields, never from the message
		expect([err.needBytes, err.limitBytes]).toEqual([need, 100_000]);
		expect(read).toEqual(['config.json']);
		expect((await loadModel(filesSource(files), { maxBytes: need })).spec.n_layers).toBe(2); // the limit is inclusive
		const gpt2Small = specFromConfig({ model_type: 'gpt2', n_embd: 768, n_head: 12, n_layer: 12, n_positions: 1024, vocab_size: 50257 });
		const weightsOnly = 4 * 124_439_808; // GPT-2 small's parameter count (tied)
		expect(estimateBytes(gpt2Small)).toBeGreaterThan(weightsOnly);
		expect(estimateBytes(gpt2Small)).toBeLessThan(DEFAULT_MAX_BYTES);
		const huge = specFromConfig({ model_type: 'gpt2', n_embd: 4096, n_head: 32, n_layer: 1_000_000, n_positions: 1024, vocab_size: 50257 });
		expect(estimateBytes(huge)).toBeGreaterThan(DEFAULT_MAX_BYTES);
	});
});

describe('toFloat32', () => {
	const raw = (dtype: string, halves: number[]) => ({ dtype, shape: [halves.length], bytes: new Uint8Array(Uint16Array.from(halves).buffer) });
	it('widens F16 and BF16 exactly', () => {
		expect([...toFloat32('f', 'x', raw('F16', [0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00, 0x8000, 0x3555]))]).toEqual([
			1, -2, 65504, 2 ** -24, Infinity, -0, 0.333251953125
		]);
		expect([...toFloat32('f', 'x', raw('BF16', [0x3f80, 0xc040, 0x3eab, 0xff80]))]).toEqual([1, -3, 0.333984375, -Infinity]);
	});
});
