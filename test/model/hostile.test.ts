// Hostile model folders and inputs, one case per class: each fails fast with a message that names
// the problem, instead of hanging (backtracking globs and tokenizer regexes), computing on garbage
// (NaN weights) or reading outside the folder (symlinks).
import { mkdtempSync, rmSync, symlinkSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { selectHooks } from '../../src/cli/capture';
import { folderSource } from '../../src/cli/node-source';
import { MAX_GLOB_LENGTH } from '../../src/lib/core/model/glob';
import { ModelLoadError, TokenizeError, filesSource, loadModel } from '../../src/lib/core/model/index';
import { MAX_TEXT_LENGTH, createTokenizer } from '../../src/lib/core/model/tokenizer';
import { FIXTURES, folderFiles, jsonBytes, joinSafetensors, parseBytes, splitSafetensors } from './fixtures';

const TINY = 'tiny-gpt2';
const tinyDir = join(FIXTURES, 'models', TINY);
const scratch = mkdtempSync(join(tmpdir(), 'arithlens-hostile-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** The tiny model's files with some replaced, loaded from memory. */
const loadWith = (changes: Record<string, Uint8Array>, opts = {}) => {
	const files = folderFiles(TINY);
	for (const [name, bytes] of Object.entries(changes)) files.set(name, bytes);
	return loadModel(filesSource(files, TINY), opts);
};
const tokenizerJson = () => parseBytes(folderFiles(TINY).get('tokenizer.json')!);
const failure = async (p: Promise<unknown>): Promise<Error> => p.then(() => { throw new Error('expected a failure'); }, (e: Error) => e);
const elapsed = async <T>(fn: () => Promise<T>): Promise<[T, number]> => {
	const t0 = performance.now();
	const out = await fn();
	return [out, performance.now() - t0];
};

describe('hostile inputs', () => {
	it('hook globs: a run of stars is matched in linear time, a long pattern is refused', async () => {
		const { spec } = await loadModel(folderSource(tinyDir));
		// As a regex, /^.*.*…x$/ backtracks through C(n+12, 12) splits of each name: past 60 s.
		const [err, ms] = await elapsed(async () => (() => { try { selectHooks(spec, '************x'); } catch (e) { return e as Error; } })());
		expect(err?.message).toBe("--hooks: '************x' matches no hook point of this model");
		expect(ms).toBeLessThan(1000);
		expect(selectHooks(spec, '*.attn.hook_pattern')).toEqual(['blocks.0.attn.hook_pattern', 'blocks.1.attn.hook_pattern']);
		expect(selectHooks(spec, '****logits')).toEqual(['logits']);
		expect(() => selectHooks(spec, '*'.repeat(MAX_GLOB_LENGTH + 1))).toThrow(`--hooks: glob of ${MAX_GLOB_LENGTH + 1} characters, above the limit of ${MAX_GLOB_LENGTH}`);
	});

	it('tokenizer: a catastrophic regex, duplicate ids, oversized text and ids past the vocabulary are refused', async () => {
		// '(1+)+$' took 4.2 s on 26 digits and doubles with each more: no length bound makes it safe.
		const catastrophic = tokenizerJson();
		catastrophic.pre_tokenizer = { type: 'Split', pattern: { Regex: '(1+)+$' }, behavior: 'Isolated', invert: false };
		const [err, ms] = await elapsed(() => failure(loadWith({ 'tokenizer.json': jsonBytes(catastrophic) })));
		expect(err).toBeInstanceOf(ModelLoadError);
		expect(err.message).toBe('tokenizer.json: pre_tokenizer.pattern.Regex repeats "(1+)+", a group that itself repeats: it backtracks exponentially on long inputs, so it is refused');
		expect(ms).toBeLessThan(5000);

		const dup = tokenizerJson();
		dup.model.vocab['x'] = 7;
		expect((await failure(loadWith({ "tokenizer.json": jsonBytes(dup) }))).message).toBe('tokenizer.json: tokens "3" and "x" both have id 7');

		const { tokenizer } = await loadModel(folderSource(tinyDir));
		const [long, longMs] = await elapsed(async () => (() => { try { tokenizer.encode('1'.repeat(MAX_TEXT_LENGTH + 1)); } catch (e) { return e as Error; } })());
		expect(long).toBeInstanceOf(TokenizeError);
		expect(long!.message).toBe(`text of ${MAX_TEXT_LENGTH + 1} characters, above the tokenizer's limit of ${MAX_TEXT_LENGTH}`);
		expect(longMs).toBeLessThan(100);

		// An added token past config.json's vocab_size (21) would index outside W_E: loadModel refuses the
		// tokenizer, and a tokenizer built alone (as a worker does) refuses to encode to it.
		const outside = tokenizerJson();
		outside.added_tokens.push({ id: 30, content: '<zz>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
		expect((await failure(loadWith({ 'tokenizer.json': jsonBytes(outside) }))).message).toBe("tokenizer.json: has ids up to 30, but the model's vocabulary has only 21 rows");
		const alone = createTokenizer(outside, {}, { vocab_size: 21 });
		expect(() => alone.encode('1+<zz>')).toThrow(`"1+<zz>" encodes token 3 to id 30, outside the model's vocabulary of 21 ids (check tokenizer.json's post_processor and added_tokens)`);
		expect(alone.encode('1+2=', { addSpecialTokens: false })).toEqual([5, 14, 6, 19]);
	});

	it('weights: NaN/Inf values are refused at load, naming the tensor and the count, unless allowed', async () => {
		const { header, data } = splitSafetensors(folderFiles(TINY).get('model.safetensors')!);
		const poisoned = new Uint8Array(data);
		const [begin] = header['transformer.h.0.attn.c_attn.weight'].data_offsets as number[];
		const view = new DataView(poisoned.buffer);
		[NaN, Infinity, -Infinity].forEach((v, i) => view.setFloat32(begin + 4 * (5 + 7 * i), v, true));
		const weights = joinSafetensors(header, poisoned);
		const err = await failure(loadWith({ 'model.safetensors': weights }));
		expect(err).toBeInstanceOf(ModelLoadError);
		expect(err.message).toBe("model.safetensors: tensor 'transformer.h.0.attn.c_attn.weight' has 3 NaN/Inf values (load with allowNonFinite to keep them)");
		const kept = await loadWith({ 'model.safetensors': weights }, { allowNonFinite: true });
		expect([...kept.weights.values()].some((w) => Array.from(w.data as Float32Array).some(Number.isNaN))).toBe(true);

		// Finite in f32 but past float16's ±65504: narrowing (precision 'float16') would make them ±Inf.
		const large = new Uint8Array(data);
		new DataView(large.buffer).setFloat32(begin, 1e5, true);
		const big = joinSafetensors(header, large);
		expect((await loadWith({ 'model.safetensors': big })).spec.n_layers).toBe(2);
		expect((await failure(loadWith({ 'model.safetensors': big }, { precision: 'float16' }))).message).toBe(
			"model.safetensors: tensor 'transformer.h.0.attn.c_attn.weight' has 1 value beyond float16's range (±65504); load it in float32 (--precision float32)"
		);
	});

	it('folders: a link out of the model folder is refused without reading it, and bad JSON is not quoted', async () => {
		const secret = join(scratch, 'secret.txt');
		writeFileSync(secret, 'root:x:0:0:SECRET-TOKEN\n');
		const linked = join(scratch, 'linked');
		cpSync(tinyDir, linked, { recursive: true });
		rmSync(join(linked, 'config.json'));
		symlinkSync(secret, join(linked, 'config.json'));
		const err = await failure(loadModel(folderSource(linked)));
		expect(err).toBeInstanceOf(ModelLoadError);
		expect(err.message).toBe('config.json: a link to a file outside the model folder');

		// A link that stays inside the folder is fine.
		rmSync(join(linked, 'config.json'));
		cpSync(join(tinyDir, 'config.json'), join(linked, 'real-config.json'));
		symlinkSync(join(linked, 'real-config.json'), join(linked, 'config.json'));
		expect((await loadModel(folderSource(linked))).spec.n_layers).toBe(2);

		// A file in the folder that is not JSON: the error says so and where, not what it holds.
		rmSync(join(linked, 'config.json'));
		writeFileSync(join(linked, 'config.json'), 'root:x:0:0:SECRET-TOKEN\n');
		const bad = await failure(loadModel(folderSource(linked)));
		expect(bad.message).toBe('config.json: bad JSON (Unexpected character U+0072 (not valid JSON))');
		expect(bad.message).not.toContain('SECRET');
	});
});
