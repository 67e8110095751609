// `arithlens capture` end to end: the real CLI on the tiny GPT-2 fixture writes exactly the tensors the
// PyTorch reference captured (test/fixtures/tiny-gpt2 capture.0.*, max |diff| <= the manifest's 1e-4),
// as safetensors and as JSON, from a folder and from a hub-layout server; bad input exits 2 with one
// line on stderr and writes nothing.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeSafetensors } from '../../src/cli/output';
import { parseSafetensors, toFloat32 } from '../../src/lib/core/model/safetensors';
import { maxOf, minOf } from '../../src/lib/core/model/arrays';
import type { Tensor } from '../../src/lib/core/model/tensor';
import { maxAbsDiff, readFixture } from '../engine/fixtures';
import { runCli } from './run-cli';
import { tempDir } from '../tempDir';

const fx = readFixture('tiny-gpt2');
const MODEL = fx.modelDir;
const PROMPT = (JSON.parse(readFileSync(join(MODEL, '../../tiny-gpt2.json'), 'utf8')) as { prompts: { prompt: string }[] }).prompts[0].prompt;
const TOKENS = fx.manifest.tokens[0];
const ALL_HOOKS = fx.manifest.captures[0].hooks; // every hook of the model, forward order, 'logits' last
const TOL = fx.manifest.tolerance;

function expectFixture(name: string, got: Tensor) {
	const d = maxAbsDiff(got, fx.float(`capture.0.${name}`));
	console.log(`capture ${name}: max |diff| ${d.toExponential(2)}`);
	expect(d, `${name}: max |diff| ${d} > ${TOL}`).toBeLessThanOrEqual(TOL);
}

function readSafetensors(path: string) {
	const bytes = new Uint8Array(readFileSync(path));
	const tensors = parseSafetensors(path, bytes);
	const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
	const metadata = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))).__metadata__ as Record<string, string>;
	const float = (name: string): Tensor => ({ data: toFloat32(path, name, tensors.get(name)!), shape: tensors.get(name)!.shape });
	return { names: [...tensors.keys()], float, metadata, dtypes: [...tensors.values()].map((t) => t.dtype), headerLength };
}

/** tiny-gpt2 with '+' spelled 'Ġ' and '=' spelled '＝' (2 and 3 UTF-8 bytes): same ids, same logits. */
function nonAsciiModel(): string {
	const dir = tempDir('arithlens-unicode-');
	for (const f of ['config.json', 'model.safetensors', 'tokenizer_config.json']) copyFileSync(join(MODEL, f), join(dir, f));
	const tok = JSON.parse(readFileSync(join(MODEL, 'tokenizer.json'), 'utf8'));
	const vocab: Record<string, number> = tok.model.vocab;
	const respell: Record<string, string> = { '+': 'Ġ', '=': '＝' };
	tok.model.vocab = Object.fromEntries(Object.entries(vocab).map(([k, id]) => [respell[k] ?? k, id]));
	writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tok));
	return dir;
}

describe('arithlens capture', () => {
	it('writes logits and every hook (--hooks "*") to safetensors, equal to the reference', async () => {
		const dir = tempDir('arithlens-cli-');
		const out = join(dir, 'capture.safetensors');
		const r = await runCli(['capture', '--model', MODEL, '--text', PROMPT, '--hooks', '*', '--out', out]);
		expect(r.stderr).toBe('');
		expect(r.code).toBe(0);
		expect(r.stdout).toContain(`wrote ${ALL_HOOKS.length} tensors for ${TOKENS.length} tokens`);
		expect(readdirSync(dir)).toEqual(['capture.safetensors']); // no temporary file left behind

		const file = readSafetensors(out);
		expect(file.names.sort()).toEqual([...ALL_HOOKS].sort());
		expect(new Set(file.dtypes)).toEqual(new Set(['F32']));
		for (const name of ALL_HOOKS) expectFixture(name, file.float(name));
		expect(JSON.parse(file.metadata.tokens)).toEqual(TOKENS);
		expect(JSON.parse(file.metadata.token_strings)).toEqual(['<bos>', ...PROMPT]);
		expect(file.metadata).toMatchObject({ text: PROMPT, model: 'tiny-gpt2', backend: 'node' });
		expect(file.metadata.weights_sha256).toMatch(/^[0-9a-f]{64}$/);
	});

	it('writes safetensors for non-ASCII text and token strings, 8-byte aligned, readable by our parser', async () => {
		const text = PROMPT.replace('+', 'Ġ').replace('=', '＝');
		const out = join(tempDir('arithlens-cli-'), 'unicode.safetensors');
		const r = await runCli(['capture', '--model', nonAsciiModel(), '--text', text, '--hooks', 'blocks.0.attn.hook_pattern', '--out', out]);
		expect(r.code, r.stderr).toBe(0);
		const file = readSafetensors(out);
		expect(file.headerLength % 8).toBe(0);
		expect(file.metadata.text).toBe(text);
		expect(JSON.parse(file.metadata.tokens)).toEqual(TOKENS); // same ids as the ASCII spelling
		expect(JSON.parse(file.metadata.token_strings)).toEqual(['<bos>', ...text]);
		expect(file.names).toEqual(['logits', 'blocks.0.attn.hook_pattern']);
		for (const name of file.names) expectFixture(name, file.float(name));
	});

	it('runs on a 151,936-token vocabulary (Qwen2): logits [T, V] and the top predictions with --json', async () => {
		// tiny-gpt2 with its (tied) embedding grown to V rows of zeros after the 21 real ones: the
		// logits of the real ids are the reference's, every other logit is exactly 0
		const V = 151_936;
		const dir = tempDir('arithlens-wide-');
		for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(MODEL, f), join(dir, f));
		const config = JSON.parse(readFileSync(join(MODEL, 'config.json'), 'utf8'));
		writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, vocab_size: V }));
		const bytes = new Uint8Array(readFileSync(join(MODEL, 'model.safetensors')));
		const weights = new Map([...parseSafetensors('model.safetensors', bytes)].map(([name, raw]): [string, Tensor] => [name, { data: toFloat32('model.safetensors', name, raw), shape: raw.shape }]));
		const wte = weights.get('transformer.wte.weight')!;
		const wide = new Float32Array(V * wte.shape[1]);
		wide.set(wte.data);
		weights.set('transformer.wte.weight', { data: wide, shape: [V, wte.shape[1]] });
		writeFileSync(join(dir, 'model.safetensors'), encodeSafetensors(weights, { format: 'pt' }));

		const out = join(tempDir('arithlens-cli-'), 'wide.safetensors');
		const r = await runCli(['capture', '--model', dir, '--text', PROMPT, '--out', out, '--json']);
		expect(r.code, r.stderr).toBe(0);
		const logits = readSafetensors(out).float('logits');
		const ref = fx.float('capture.0.logits');
		const [T, V0] = ref.shape;
		expect(logits.shape).toEqual([T, V]);
		const real = new Float32Array(T * V0);
		let others = 0;
		for (let t = 0; t < T; t++)
			for (let v = 0; v < V; v++) {
				if (v < V0) real[t * V0 + v] = logits.data[t * V + v];
				else others = Math.max(others, Math.abs(logits.data[t * V + v]));
			}
		expectFixture('logits', { data: real, shape: ref.shape });
		expect(others).toBe(0);

		const last = [...Array.from(ref.data.subarray((T - 1) * V0)), ...new Array<number>(V - V0).fill(0)];
		const order = last.map((_, i) => i).sort((a, b) => last[b] - last[a] || a - b);
		const peak = last[order[0]];
		const z = last.reduce((acc, x) => acc + Math.exp(x - peak), 0);
		const top = JSON.parse(r.stdout).top as { id: number; prob: number }[];
		expect(top.map((p) => p.id)).toEqual(order.slice(0, 5));
		top.forEach((p) => expect(Math.abs(p.prob - Math.exp(last[p.id] - peak) / z)).toBeLessThanOrEqual(TOL));
	});

	it('encodeSafetensors pads the UTF-8 header to a multiple of 8 bytes for every non-ASCII length', () => {
		const t: Tensor = { data: Float32Array.of(1.5, -2, Infinity), shape: [3] };
		for (let k = 0; k < 9; k++) {
			const name = `t${'é'.repeat(k)}`; // 2 bytes, 1 UTF-16 unit each
			const metadata = { token_strings: JSON.stringify(['▁'.repeat(k), 'Ġ']) };
			const bytes = encodeSafetensors(new Map([[name, t]]), metadata);
			const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
			expect(n % 8, `k=${k}`).toBe(0);
			const header = new TextDecoder().decode(bytes.subarray(8, 8 + n));
			expect(header.trimEnd()).toBe(JSON.stringify({ __metadata__: metadata, [name]: { dtype: 'F32', shape: [3], data_offsets: [0, 12] } }));
			expect(n - new TextEncoder().encode(header.trimEnd()).length).toBeLessThan(8); // spaces only as padding
			const parsed = parseSafetensors('x.safetensors', bytes).get(name)!;
			expect(Array.from(toFloat32('x.safetensors', name, parsed))).toEqual([1.5, -2, Infinity]);
			expect(bytes.length).toBe(8 + n + 12);
		}
	});

	it('writes JSON for a glob selection and prints the summary with --json', async () => {
		const dir = tempDir('arithlens-cli-');
		const out = join(dir, 'capture.json');
		const hooks = 'blocks.*.attn.hook_pattern,hook_embed,blocks.0.attn.hook_attn_scores';
		const r = await runCli(['capture', '-m', MODEL, '-t', PROMPT, '--hooks', hooks, '-o', out, '--json']);
		expect(r.code, r.stderr).toBe(0);
		const wanted = ['logits', 'hook_embed', 'blocks.0.attn.hook_attn_scores', 'blocks.0.attn.hook_pattern', 'blocks.1.attn.hook_pattern'];

		const file = JSON.parse(readFileSync(out, 'utf8'));
		expect(file.tokens).toEqual(TOKENS);
		expect(file.token_strings).toEqual(['<bos>', ...PROMPT]);
		expect(Object.keys(file.tensors)).toEqual(wanted); // logits first, then forward order
		for (const name of wanted) {
			const { shape, data } = file.tensors[name] as { shape: number[]; data: (number | string)[] };
			// the masked scores are -Infinity, written as the string "-Infinity"
			if (name.endsWith('hook_attn_scores')) expect(data).toContain('-Infinity');
			expectFixture(name, { shape, data: Float32Array.from(data, Number) });
		}

		const summary = JSON.parse(r.stdout);
		expect(summary.tokens).toEqual(TOKENS);
		expect(Object.keys(summary.tensors)).toEqual(wanted);
		for (const name of wanted) {
			const want = fx.float(`capture.0.${name}`);
			const finite = Array.from(want.data).filter(Number.isFinite);
			const stats = summary.tensors[name];
			expect(stats.shape).toEqual(want.shape);
			expect(stats.nonfinite).toBe(want.data.length - finite.length);
			expect(Math.abs(stats.min - minOf(finite))).toBeLessThanOrEqual(TOL);
			expect(Math.abs(stats.max - maxOf(finite))).toBeLessThanOrEqual(TOL);
			expect(Math.abs(stats.mean - finite.reduce((a, b) => a + b, 0) / finite.length)).toBeLessThanOrEqual(TOL);
		}
		// top predictions: the reference's last-position logits, sorted, with softmax probabilities
		const logits = fx.float('capture.0.logits');
		const V = logits.shape[1];
		const last = Array.from(logits.data.subarray(logits.data.length - V));
		const order = last.map((_, i) => i).sort((a, b) => last[b] - last[a]);
		const z = last.reduce((s, x) => s + Math.exp(x), 0);
		expect(summary.top.map((p: { id: number }) => p.id)).toEqual(order.slice(0, 5));
		summary.top.forEach((p: { id: number; logit: number; prob: number }) => {
			expect(Math.abs(p.logit - last[p.id])).toBeLessThanOrEqual(TOL);
			expect(Math.abs(p.prob - Math.exp(last[p.id]) / z)).toBeLessThanOrEqual(TOL);
		});
	});

	it('runs on onnxruntime-web (WASM) with --backend wasm', async () => {
		const out = join(tempDir('arithlens-cli-'), 'wasm.safetensors');
		const r = await runCli(['capture', '-m', MODEL, '-t', PROMPT, '--hooks', 'blocks.1.*', '-o', out, '--backend', 'wasm']);
		expect(r.code, r.stderr).toBe(0);
		const file = readSafetensors(out);
		expect(file.metadata.backend).toBe('wasm');
		const layer1 = ALL_HOOKS.filter((h) => h.startsWith('blocks.1.'));
		expect(file.names.sort()).toEqual(['logits', ...layer1].sort());
		for (const name of file.names) expectFixture(name, file.float(name));
	});

	describe('from a hub id', () => {
		const ID = 'arith/tiny-gpt2';
		const REVISION = 'v1';
		let server: Server;
		let host: string;
		beforeAll(async () => {
			// Laid out like the Hugging Face hub: /<id>/resolve/<revision>/<file>, X-Error-Code on misses.
			server = createServer((req, res) => {
				const m = /^\/(.+)\/resolve\/([^/]+)\/([^/]+)$/.exec(req.url ?? '');
				if (!m || m[1] !== ID) return void res.writeHead(404, { 'x-error-code': 'RepoNotFound' }).end();
				if (decodeURIComponent(m[2]) !== REVISION) return void res.writeHead(404, { 'x-error-code': 'RevisionNotFound' }).end();
				if (!readdirSync(MODEL).includes(m[3])) return void res.writeHead(404, { 'x-error-code': 'EntryNotFound' }).end();
				res.writeHead(200).end(readFileSync(join(MODEL, m[3])));
			});
			await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
			host = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
		});
		afterAll(() => new Promise<void>((ok) => server.close(() => ok())));

		it('downloads the model at a revision from --hub-host', async () => {
			const out = join(tempDir('arithlens-cli-'), 'hub.safetensors');
			const r = await runCli(['capture', '-m', ID, '--revision', REVISION, '--hub-host', host, '-t', PROMPT, '--hooks', 'blocks.0.attn.hook_z', '-o', out]);
			expect(r.code, r.stderr).toBe(0);
			const file = readSafetensors(out);
			expect(file.metadata).toMatchObject({ model: ID, revision: REVISION });
			expect(file.names).toEqual(['logits', 'blocks.0.attn.hook_z']);
			for (const name of file.names) expectFixture(name, file.float(name));
		});

		it('a missing revision exits 2 and writes nothing', async () => {
			const dir = tempDir('arithlens-cli-');
			const r = await runCli(['capture', '-m', ID, '--revision', 'v9', '--hub-host', host, '-t', PROMPT, '-o', join(dir, 'x.json')]);
			expect(r.code).toBe(2);
			expect(r.stderr).toMatch(/^arithlens: .*revision 'v9'.* not found/);
			expect(readdirSync(dir)).toEqual([]);
		});
	});

	describe('bad input exits 2 with a one-line reason and writes nothing', () => {
		const cases: [string, (dir: string) => string[], RegExp][] = [
			['unknown flag', (d) => ['--model', MODEL, '--text', PROMPT, '--out', join(d, 'x.json'), '--layers', '1'], /unknown option '--layers'/],
			['missing model folder', (d) => ['--model', join(d, 'no-such-model'), '--text', PROMPT, '--out', join(d, 'x.json')], /--model: no folder/],
			['folder that is not a model', (d) => ['--model', d, '--text', PROMPT, '--out', join(d, 'x.json')], /config\.json: not found/],
			['no --model', (d) => ['--text', PROMPT, '--out', join(d, 'x.json')], /missing --model/],
			['hook glob matching nothing', (d) => ['-m', MODEL, '-t', PROMPT, '--hooks', 'blocks.0.*,blocks.7.*', '-o', join(d, 'x.json')], /--hooks: 'blocks\.7\.\*' matches no hook point/],
			['hook name with a typo', (d) => ['-m', MODEL, '-t', PROMPT, '--hooks', 'blocks.0.attn.hook_patern', '-o', join(d, 'x.json')], /matches no hook point/],
			['unencodable prompt', (d) => ['-m', MODEL, '-t', '12+x=', '-o', join(d, 'x.json')], /character "x" \(U\+0078\) at position 3/],
			['prompt longer than the context', (d) => ['-m', MODEL, '-t', '1'.repeat(20) + '=', '-o', join(d, 'x.json')], /22 tokens, above the model's context of 16/],
			['empty prompt', (d) => ['-m', MODEL, '--text=', '-o', join(d, 'x.json')], /--text: empty prompt/],
			['unknown output extension', (d) => ['-m', MODEL, '-t', PROMPT, '-o', join(d, 'x.npy')], /must end in \.safetensors or \.json/],
			['missing output folder', (d) => ['-m', MODEL, '-t', PROMPT, '-o', join(d, 'sub', 'x.json')], /--out: no folder/],
			['--revision on a local folder', (d) => ['-m', MODEL, '--revision', 'v1', '-t', PROMPT, '-o', join(d, 'x.json')], /apply to hub ids only/],
			['unknown backend', (d) => ['-m', MODEL, '-t', PROMPT, '-o', join(d, 'x.json'), '--backend', 'cuda'], /--backend: 'cuda' is not one of node, wasm/]
		];
		it.each(cases)('%s', async (_, args, reason) => {
			const dir = tempDir('arithlens-cli-');
			const r = await runCli(['capture', ...args(dir)]);
			expect(r.code, r.stderr).toBe(2);
			expect(r.stderr).toMatch(/^arithlens: [^\n]+\n$/);
			expect(r.stderr).toMatch(reason);
			expect(r.stdout).toBe('');
			expect(readdirSync(dir)).toEqual([]);
		});

		it('an existing output file is left as it was', async () => {
			const out = join(tempDir('arithlens-cli-'), 'keep.safetensors');
			writeFileSync(out, 'earlier run');
			const r = await runCli(['capture', '-m', MODEL, '-t', '12+x=', '-o', out]);
			expect(r.code).toBe(2);
			expect(readFileSync(out, 'utf8')).toBe('earlier run');
		});

		it('an unknown command', async () => {
			const r = await runCli(['scan-everything']);
			expect(r.code).toBe(2);
			expect(r.stderr).toBe("arithlens: unknown command 'scan-everything' (see 'arithlens --help')\n");
		});
	});

	it('--help documents the commands and capture --help every flag', async () => {
		const top = await runCli(['--help']);
		expect(top.code).toBe(0);
		expect(top.stdout).toMatch(/^Usage: arithlens <command>/);
		expect(top.stdout).toContain('capture');
		const help = await runCli(['capture', '--help']);
		expect(help.code).toBe(0);
		for (const flag of ['--model', '--text', '--hooks', '--revision', '--hub-host', '--backend', '--out', '--json', '--help'])
			expect(help.stdout, flag).toContain(flag);
		expect((await runCli(['help', 'capture'])).stdout).toBe(help.stdout);
		const none = await runCli([]);
		expect(none.code).toBe(2);
		expect(none.stderr).toBe(top.stdout);
	});
});
