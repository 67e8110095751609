// Seeded fuzzing of the three parsers a downloaded model feeds: safetensors bytes, config.json and
// tokenizer.json. Each mutated input must either load or fail with a ModelLoadError (prompts with a
// TokenizeError): never another error type, a hang, or a huge allocation (each case is timed).
import { describe, expect, it, vi } from 'vitest';
import { ModelLoadError, TokenizeError, filesSource, loadModel } from '../../src/lib/core/model/index';
import { folderFiles, jsonBytes, joinSafetensors, parseBytes, splitSafetensors, tinyModelDirs } from './fixtures';

const CASES = 1000;
const SLOW_MS = 500;

/** mulberry32: a tiny seeded PRNG, so a failing case can be replayed from its seed and index. */
function prng(seed: number) {
	let a = seed >>> 0;
	const next = () => {
		a = (a + 0x6d2b79f5) >>> 0;
		let t = Math.imul(a ^ (a >>> 15), 1 | a);
		t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
	const int = (n: number) => Math.floor(next() * n);
	return { next, int, pick: <T>(xs: readonly T[]): T => xs[int(xs.length)] };
}
type Rng = ReturnType<typeof prng>;

const WEIRD_VALUES = [null, -1, 0, 1, 2, 3, 7, 16, 2 ** 31, 2 ** 53, 1e308, -1e-9, 0.5, NaN, 'x', '', 'gpt2', 'llama', 'F16', true, false, [], [1, 2], {}, { a: 1 }];
const randomValue = (r: Rng): unknown => (r.next() < 0.3 ? r.int(100) - 10 : r.pick(WEIRD_VALUES));

/** Byte-level damage: flip, overwrite, truncate, insert, delete. */
function mutateBytes(r: Rng, input: Uint8Array, focus = input.length): Uint8Array {
	let b = input.slice();
	for (let k = 1 + r.int(4); k > 0; k--) {
		const at = r.int(Math.max(1, r.next() < 0.8 ? focus : b.length));
		const op = r.int(5);
		if (op === 0) b[at] ^= 1 << r.int(8);
		else if (op === 1) b[at] = r.int(256);
		else if (op === 2) b = b.slice(0, at);
		else if (op === 3) b = Uint8Array.from([...b.subarray(0, at), r.int(256), ...b.subarray(at)]);
		else b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + 1 + r.int(8))]);
	}
	return b;
}

/** Structural damage to parsed JSON: replace, delete or add a value somewhere in the tree. */
function mutateJson(r: Rng, value: unknown): unknown {
	const root = structuredClone(value) as Record<string, unknown>;
	for (let k = 1 + r.int(3); k > 0; k--) {
		let node: any = root;
		while (true) {
			const keys = node && typeof node === 'object' ? Object.keys(node) : [];
			if (keys.length === 0) break;
			const key = r.pick(keys);
			const child = node[key];
			if (child && typeof child === 'object' && r.next() < 0.6) {
				node = child;
				continue;
			}
			const op = r.int(3);
			if (op === 0) node[key] = randomValue(r);
			else if (op === 1) Array.isArray(node) ? node.splice(Number(key), 1) : delete node[key];
			else node[Array.isArray(node) ? node.length : `k${r.int(9)}`] = randomValue(r);
			break;
		}
	}
	return root;
}

/** Load `files`; returns 'loaded' or 'refused', and fails the test for any other outcome. */
async function outcome(files: Map<string, Uint8Array>, what: string): Promise<'loaded' | 'refused'> {
	const t0 = performance.now();
	try {
		const model = await loadModel(filesSource(files), { maxBytes: 64 * 1024 ** 2 });
		try {
			model.tokenizer.encode('12+34=');
		} catch (e) {
			if (!(e instanceof TokenizeError)) throw e;
		}
		return 'loaded';
	} catch (e) {
		if (!(e instanceof ModelLoadError)) throw new Error(`${what}: ${(e as Error)?.stack ?? e}`);
		return 'refused';
	} finally {
		expect(performance.now() - t0, `${what} took too long`).toBeLessThan(SLOW_MS);
	}
}

async function fuzz(seed: number, mutate: (r: Rng, i: number) => { files: Map<string, Uint8Array> }) {
	const r = prng(seed);
	const tally = { loaded: 0, refused: 0 };
	for (let i = 0; i < CASES; i++) tally[await outcome(mutate(r, i).files, `seed ${seed} case ${i}`)]++;
	// Both outcomes must occur, or the mutations are too weak (or too strong) to test anything.
	expect(tally.loaded, JSON.stringify(tally)).toBeGreaterThan(0);
	expect(tally.refused, JSON.stringify(tally)).toBeGreaterThan(0);
	return tally;
}

const models = tinyModelDirs().map((name) => ({ name, files: folderFiles(name) }));
const withFile = (files: Map<string, Uint8Array>, name: string, bytes: Uint8Array) => ({ files: new Map(files).set(name, bytes) });

describe('fuzzed model files load or throw ModelLoadError', () => {
	it('safetensors bytes', async () => {
		const { files } = models.find((m) => m.name === 'tiny-gpt2')!;
		const original = files.get('model.safetensors')!;
		const { header, data } = splitSafetensors(original);
		const headerEnd = original.length - data.length;
		await fuzz(1, (r) => {
			if (r.next() < 0.5) return withFile(files, 'model.safetensors', mutateBytes(r, original, headerEnd));
			// Structural: valid JSON with one entry's dtype, shape or data_offsets changed.
			const h = structuredClone(header);
			const entry = h[r.pick(Object.keys(h).filter((k) => k !== '__metadata__'))];
			const field = r.pick(['dtype', 'shape', 'data_offsets']);
			entry[field] = r.next() < 0.5 ? randomValue(r) : field === 'dtype' ? r.pick(['F16', 'BF16', 'I64', 'U8', 'F64', 'Q4'])
				: entry[field].map((v: number) => (r.next() < 0.5 ? v : v + r.int(9) - 4));
			return withFile(files, 'model.safetensors', joinSafetensors(h, data));
		});
	});

	it('config.json', async () => {
		await fuzz(2, (r, i) => {
			const { files } = models[i % models.length];
			const original = files.get('config.json')!;
			const bytes = r.next() < 0.3 ? mutateBytes(r, original) : jsonBytes(mutateJson(r, parseBytes(original)));
			return withFile(files, 'config.json', bytes);
		});
	});

	it('tokenizer.json', async () => {
		const { files } = models.find((m) => m.name === 'tiny-llama-gqa')!;
		const original = files.get('tokenizer.json')!;
		const parsed = parseBytes(original);
		// The tokenizer library warns (and carries on) about patterns it does not know; that is expected here.
		const quiet = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
		await fuzz(3, (r) => withFile(files, 'tokenizer.json', r.next() < 0.3 ? mutateBytes(r, original) : jsonBytes(mutateJson(r, parsed))));
		quiet.mockRestore();
	});
});
