// download.ts against real misbehaving HTTP servers on 127.0.0.1: a drip, a silent server, a lying
// Content-Length, an endless chunked stream, a gzip bomb, 429 then 200 with Retry-After, 503 forever,
// credentials in the host URL; and the normal case, byte-identical with progress. Every case runs with
// small timeouts so it ends in well under 3 s; each prints its measured time.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpGet, redactUrl } from '../../src/lib/core/model/download';
import { ModelLoadError, hubSource, loadModel, urlSource, type HttpOptions } from '../../src/lib/core/model/index';
import { runCli } from '../cli/run-cli';
import { FIXTURES } from './fixtures';

const SECRET = 's3cret-Pa55';
const TOKEN = 'hf_tok3nValue';
const FAST: HttpOptions = { cache: null, connectTimeoutMs: 400, idleTimeoutMs: 400, retryBaseDelayMs: 20, maxRetryDelayMs: 2000 };
const PAYLOAD = randomBytes(300_000);
// 64 gzip members of 16 MiB of zeros each: ~1 MB on the wire that inflates to 1 GiB.
const BOMB = Buffer.concat(Array.from({ length: 64 }, ((member) => () => member)(gzipSync(Buffer.alloc(16 * 1024 ** 2)))));
const SHARDED = join(FIXTURES, 'models', 'tiny-qwen2-bf16-sharded');

let server: Server;
let base: string;
const hits = new Map<string, number>();
const auth: (string | undefined)[] = [];
const open = new Set<ServerResponse>();

type Route = (req: IncomingMessage, res: ServerResponse, hit: number) => void;
const routes: Record<string, Route> = {
	// one byte every 100 ms: each chunk comes well within the 400 ms idle timeout, the file never does
	'/drip/config.json': (_, res) => {
		res.writeHead(200, { 'content-length': 1000 });
		const timer = setInterval(() => res.write('{'), 100);
		res.on('close', () => clearInterval(timer));
	},
	'/silent/config.json': () => undefined,
	'/huge/model.safetensors': (_, res) => void res.writeHead(200, { 'content-length': 3 * 1024 ** 3 }).flushHeaders(),
	'/endless/tokenizer.json': (_, res) => {
		res.writeHead(200, { 'content-type': 'application/json' }); // chunked, no Content-Length
		const chunk = Buffer.alloc(256 * 1024, 0x20);
		const pump = () => {
			while (!res.destroyed && res.write(chunk));
			if (!res.destroyed) res.once('drain', pump);
		};
		pump();
	},
	'/bomb/config.json': (_, res) => void res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': BOMB.length }).end(BOMB),
	'/busy/config.json': (_, res, hit) => {
		if (hit === 1) res.writeHead(429, { 'retry-after': '1' }).end('slow down');
		else res.writeHead(200, { 'content-length': 2 }).end('{}');
	},
	'/down/config.json': (_, res) => void res.writeHead(503).end(),
	'/ok/weights.bin': (_, res) => {
		res.writeHead(200, { 'content-length': PAYLOAD.length });
		let at = 0;
		const next = () => (at < PAYLOAD.length ? res.write(PAYLOAD.subarray(at, (at += 50_000)), () => setTimeout(next, 2)) : res.end());
		next();
	},
	'/private/config.json': (req, res) => void (req.headers.authorization === `Basic ${btoa(`user:${SECRET}`)}` ? res.writeHead(200).end('{"a":1}') : res.writeHead(401).end())
};

beforeAll(async () => {
	server = createServer((req, res) => {
		open.add(res);
		res.on('close', () => open.delete(res));
		auth.push(req.headers.authorization);
		const path = req.url!.split('?')[0];
		if (path.startsWith('/silent-hub/')) return; // a hub host that accepts the connection and never answers
		if (path.startsWith('/unauthorized')) return void res.writeHead(401).end();
		const hit = (hits.get(path) ?? 0) + 1;
		hits.set(path, hit);
		const sharded = path.match(/^\/(sharded|lying)\/([\w.-]+)$/);
		if (sharded && readdirSync(SHARDED).includes(sharded[2])) {
			let body = readFileSync(join(SHARDED, sharded[2]));
			if (sharded[1] === 'lying' && sharded[2] === 'model.safetensors.index.json') {
				const index = JSON.parse(body.toString());
				body = Buffer.from(JSON.stringify({ ...index, metadata: { total_size: 5 * 1024 ** 3 } }));
			}
			return void res.writeHead(200, { 'content-length': body.length }).end(body);
		}
		// the sharded fixture, whose model.safetensors (absent there) claims 1 GiB and never sends it
		if (path === '/liar/model.safetensors') return void res.writeHead(200, { 'content-length': 1024 ** 3 }).flushHeaders();
		const liar = path.match(/^\/liar\/([\w.-]+)$/);
		if (liar && readdirSync(SHARDED).includes(liar[1])) return void res.writeHead(200).end(readFileSync(join(SHARDED, liar[1])));
		(routes[path] ?? ((_, r) => r.writeHead(404).end()))(req, res, hit);
	});
	await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
	base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
	for (const res of open) res.destroy();
	await new Promise<void>((ok) => server.close(() => ok()));
});

/** Runs `fn`, prints how long it took under `label`, and returns its rejection (it must reject). */
async function failure(label: string, fn: () => Promise<unknown>): Promise<{ error: ModelLoadError; ms: number }> {
	const t0 = performance.now();
	const error = await fn().then(
		() => {
			throw new Error(`${label}: resolved`);
		},
		(e) => e
	);
	const ms = performance.now() - t0;
	console.log(`${label}: ${ms.toFixed(0)} ms: ${error.message}`);
	expect(error).toBeInstanceOf(ModelLoadError);
	return { error, ms };
}

describe('download limits', () => {
	it('a server that drips a byte every 100 ms is a stall (idle timeout), not a download forever', async () => {
		const { error, ms } = await failure('drip', () => urlSource(`${base}/drip`, FAST).read('config.json'));
		expect(error.message).toMatch(/^config\.json: download from http:\/\/127\.0\.0\.1:\d+\/drip\/config\.json stalled after \d bytes: only \d bytes in 0\.4 s \(idle timeout\)$/);
		expect(ms).toBeGreaterThan(390);
		expect(ms).toBeLessThan(1500);
	});

	it('a server that never answers fails after the connect timeout, naming the file', async () => {
		const { error, ms } = await failure('silent', () => urlSource(`${base}/silent`, FAST).read('config.json'));
		expect(error.message).toBe(`config.json: no response from ${base}/silent/config.json within 0.4 s (connect timeout)`);
		expect(ms).toBeGreaterThan(390);
		expect(ms).toBeLessThan(1500);
	});

	it('a Content-Length above the memory limit is refused before the body is read', async () => {
		const { error, ms } = await failure('huge', () => urlSource(`${base}/huge`, { ...FAST, idleTimeoutMs: 60_000 }).read('model.safetensors'));
		expect(error.message).toBe('model.safetensors: download is 3 GiB, above the 2 GiB memory limit; raise the memory limit (--max-memory <GiB> in the CLI) to load it anyway');
		expect([error.needBytes, error.limitBytes]).toEqual([3 * 1024 ** 3, 2 * 1024 ** 3]);
		expect(ms).toBeLessThan(500); // no body ever comes: only the header was checked
	});

	it('a chunked tokenizer.json with no Content-Length is cut at 64 MiB', async () => {
		let last = 0;
		const { error, ms } = await failure('endless', () => urlSource(`${base}/endless`, FAST).read('tokenizer.json', (loaded) => (last = loaded)));
		expect(error.message).toBe('tokenizer.json: more than the 64 MiB limit for this file');
		expect(last).toBeLessThanOrEqual(64 * 1024 ** 2);
		expect(ms).toBeLessThan(3000);
	});

	it('a gzip bomb (1 MB inflating to 1 GiB) is cut at the decoded limit of config.json', async () => {
		const { error, ms } = await failure('gzip bomb', () => urlSource(`${base}/bomb`, FAST).read('config.json'));
		expect(BOMB.length).toBeLessThan(1.1e6);
		expect(error.message).toBe('config.json: more than the 1 MiB limit for this file');
		expect(ms).toBeLessThan(1500);
	});

	it('loadModel refuses a model.safetensors above maxBytes from its Content-Length, before its body', async () => {
		const t0 = performance.now();
		const { error } = await failure('weights above maxBytes', () => loadModel(urlSource(`${base}/liar`, { ...FAST, idleTimeoutMs: 60_000 }), { maxBytes: 0.5 * 1024 ** 3 }));
		expect(error.message).toBe('model.safetensors: download is 1 GiB, above the 0.5 GiB memory limit; raise the memory limit (--max-memory <GiB> in the CLI) to load it anyway');
		expect(performance.now() - t0).toBeLessThan(1000);
	});

	it("loadModel refuses shards whose index's metadata.total_size is above maxBytes, before downloading any", async () => {
		const { error } = await failure('index total_size', () => loadModel(urlSource(`${base}/lying`, FAST)));
		expect(error.message).toMatch(/^model\.safetensors\.index\.json: metadata\.total_size says the shards are 5 GiB, above the 2 GiB memory limit/);
		expect([...hits.keys()].filter((p) => p.startsWith('/lying/') && /-of-/.test(p))).toEqual([]);
		const ok = await loadModel(urlSource(`${base}/sharded`, FAST));
		expect(ok.weights.size).toBeGreaterThan(0);
	});
});

describe('download retries', () => {
	it('429 with Retry-After: 1 is retried after a second, then succeeds', async () => {
		const t0 = performance.now();
		const bytes = await urlSource(`${base}/busy`, FAST).read('config.json');
		const ms = performance.now() - t0;
		console.log(`429 then 200: ${ms.toFixed(0)} ms`);
		expect(new TextDecoder().decode(bytes!)).toBe('{}');
		expect(hits.get('/busy/config.json')).toBe(2);
		expect(ms).toBeGreaterThanOrEqual(990); // the server's Retry-After, not the 20 ms backoff
		expect(ms).toBeLessThan(2500);
	});

	it('503 forever gives up after 3 tries with a clear message', async () => {
		const { error, ms } = await failure('503 forever', () => urlSource(`${base}/down`, FAST).read('config.json'));
		expect(error.message).toMatch(new RegExp(`^config\\.json: HTTP 503 Service Unavailable from ${base}/down/config\\.json \\(3 tries over 0\\.\\d+ s\\); try again later$`));
		expect(hits.get('/down/config.json')).toBe(3);
		expect(ms).toBeLessThan(1000); // 20 + 40 ms of backoff
	});

	it('an AbortSignal cancels a download that is waiting', async () => {
		const controller = new AbortController();
		setTimeout(() => controller.abort(new Error('user cancelled')), 100);
		const t0 = performance.now();
		await expect(urlSource(`${base}/silent`, { ...FAST, connectTimeoutMs: 10_000, signal: controller.signal }).read('config.json')).rejects.toThrow('user cancelled');
		expect(performance.now() - t0).toBeLessThan(1000);
	});
});

describe('credentials', () => {
	it('redactUrl hides userinfo and token-like query values, and nothing else', () => {
		expect(redactUrl(`http://user:${SECRET}@127.0.0.1:1234`)).toBe('http://***@127.0.0.1:1234');
		expect(redactUrl(`https://h.example/m/config.json?token=${TOKEN}&rev=main`)).toBe('https://h.example/m/config.json?token=***&rev=main');
		expect(redactUrl('https://huggingface.co')).toBe('https://huggingface.co');
		expect(redactUrl(`not a url //me:${SECRET}@host`)).not.toContain(SECRET);
	});

	it('a password in the hub host is sent as Basic auth and never appears in any error', async () => {
		const withPassword = (path: string) => `http://user:${SECRET}@${base.slice('http://'.length)}${path}`;
		// the credentials reach the server as an Authorization header (fetch refuses them in the URL)
		const bytes = await urlSource(withPassword('/private'), FAST).read('config.json');
		expect(new TextDecoder().decode(bytes!)).toBe('{"a":1}');
		const closedPort = await new Promise<number>((ok) => {
			const s = createServer().listen(0, '127.0.0.1', () => {
				const port = (s.address() as AddressInfo).port;
				s.close(() => ok(port));
			});
		});
		const errors = await Promise.all(
			[
				() => urlSource(withPassword('/silent'), FAST).read('config.json'),
				() => urlSource(withPassword('/down'), FAST).read('config.json'),
				() => urlSource(withPassword('/huge'), FAST).read('model.safetensors'),
				() => urlSource(withPassword('/nothing'), FAST).read('config.json').then((r) => (r === null ? Promise.reject(new ModelLoadError('config.json', 'absent')) : r)),
				() => loadModel(urlSource(withPassword('/nothing'), FAST)),
				() => loadModel(hubSource('arith/none', { ...FAST, host: withPassword('') })),
				() => urlSource(`http://user:${SECRET}@127.0.0.1:${closedPort}?token=${TOKEN}`, { ...FAST, retryBaseDelayMs: 1 }).read('config.json'),
				() => urlSource(`${base}/silent-hub/x?token=${TOKEN}`, FAST).read('config.json'),
				() => urlSource(`${base}/unauthorized?access_token=${TOKEN}`, FAST).read('config.json')
			].map((f, i) => failure(`credentials ${i}`, f))
		);
		for (const { error } of errors) {
			expect(error.message).not.toContain(SECRET);
			expect(error.message).not.toContain(TOKEN);
			expect(error.message).not.toContain(encodeURIComponent(SECRET));
		}
		expect(errors[0].error.message).toContain('http://***@127.0.0.1');
		expect(errors[6].error.message).toMatch(/cannot fetch http:\/\/\*\*\*@127\.0\.0\.1:\d+\/\?token=\*\*\*\/config\.json|cannot fetch .*ECONNREFUSED/);
		expect(urlSource(withPassword('/x')).id).toBe(`http://***@${base.slice('http://'.length)}/x`);
	});
});

describe('normal downloads', () => {
	it('are byte-identical, with progress per chunk up to the Content-Length', async () => {
		const progress: [number, number | null][] = [];
		const t0 = performance.now();
		const { bytes } = await httpGet('weights.bin', `${base}/ok/weights.bin`, { ...FAST, onProgress: (loaded, total) => progress.push([loaded, total]) });
		console.log(`normal: ${(performance.now() - t0).toFixed(0)} ms, ${progress.length} progress calls`);
		expect(Buffer.from(bytes!).equals(PAYLOAD)).toBe(true);
		expect(progress.length).toBeGreaterThan(1);
		expect(progress.at(-1)).toEqual([PAYLOAD.length, PAYLOAD.length]);
		expect(progress.every(([loaded, total], i) => total === PAYLOAD.length && (i === 0 || loaded > progress[i - 1][0]))).toBe(true);
	});
});

describe('the CLI', () => {
	it('exits 2 with one stderr line, and no password, for a hub host that never answers (ARITHLENS_HTTP_TIMEOUT=0.5)', async () => {
		process.env.ARITHLENS_HTTP_TIMEOUT = '0.5';
		const t0 = performance.now();
		try {
			const r = await runCli(['capture', '--model', 'arith/tiny', '--hub-host', `http://user:${SECRET}@${base.slice('http://'.length)}/silent-hub`, '--text', '1+2=', '--out', join(tmpdir(), 'arithlens-download-test.json')]);
			console.log(`CLI hung hub: ${(performance.now() - t0).toFixed(0)} ms, exit ${r.code}: ${r.stderr.trim()}`);
			expect(r.code).toBe(2);
			const lines = r.stderr.split('\n').filter((l) => l.trim() && !/^loading /.test(l.replace(/^\r?\s*/, '')));
			expect(lines).toHaveLength(1);
			expect(lines[0]).toMatch(/^arithlens: config\.json: no response from http:\/\/\*\*\*@127\.0\.0\.1:\d+\/silent-hub\/arith\/tiny\/resolve\/main\/config\.json within 0\.5 s \(connect timeout\)$/);
			expect(r.stderr).not.toContain(SECRET);
		} finally {
			delete process.env.ARITHLENS_HTTP_TIMEOUT;
		}
	});
});
