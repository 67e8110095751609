// Loading over HTTP: a local node:http server laid out like the Hugging Face hub
// (/<id>/resolve/<revision>/<file>, 404 otherwise) serves the sharded BF16 Qwen2 fixture. Loading it by
// id and revision, by URL, from cache or from dropped files gives exactly the weights of the folder.
import { createServer, type Server } from 'node:http';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { folderSource } from '../../src/cli/node-source';
import { ModelLoadError, filesSource, hubSource, loadModel, urlSource, type CacheLike, type LoadedModel } from '../../src/lib/core/model/index';
import { FIXTURES } from './fixtures';

const ID = 'arith/tiny-qwen2-bf16-sharded';
const REVISION = 'v1.0';
const FOLDER = join(FIXTURES, 'models', 'tiny-qwen2-bf16-sharded');
let server: Server;
let host: string;
const requests: string[] = [];

beforeAll(async () => {
	server = createServer((req, res) => {
		requests.push(req.url!);
		const m = req.url!.match(/^\/(.+)\/resolve\/([^/]+)\/([^/]+)$/);
		const name = m?.[3];
		if (!m || m[1] !== ID || decodeURIComponent(m[2]) !== REVISION || !name || !readdirSync(FOLDER).includes(name)) {
			res.writeHead(404).end('not found');
			return;
		}
		const body = readFileSync(join(FOLDER, name));
		res.writeHead(200, { 'content-length': body.length });
		// Two writes so the client sees the body arrive in more than one chunk.
		const half = Math.floor(body.length / 2);
		res.write(body.subarray(0, half), () => setTimeout(() => res.end(body.subarray(half)), 5));
	});
	await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
	host = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((ok) => server.close(() => ok())));

function expectSameModel(got: LoadedModel, want: LoadedModel) {
	expect(got.spec).toEqual(want.spec);
	expect([...got.weights.keys()]).toEqual([...want.weights.keys()]);
	for (const [name, t] of want.weights) {
		expect(got.weights.get(name)!.shape, name).toEqual(t.shape);
		expect(Buffer.from(got.weights.get(name)!.data.buffer).equals(Buffer.from(t.data.buffer)), `${name} differs`).toBe(true);
	}
	expect(got.source.weightsSha256).toBe(want.source.weightsSha256);
	expect(got.tokenizer.encode('12+34=')).toEqual(want.tokenizer.encode('12+34='));
}

/** In-memory stand-in for the browser's Cache API (absent in Node), storing real Responses. */
function memoryCache(): CacheLike & { size: () => number } {
	const store = new Map<string, { status: number; body: ArrayBuffer }>();
	return {
		match: async (url) => {
			const hit = store.get(url);
			return hit && new Response(hit.status === 404 ? null : hit.body.slice(0), { status: hit.status });
		},
		put: async (url, res) => void store.set(url, { status: res.status, body: await res.arrayBuffer() }),
		size: () => store.size
	};
}

describe('model sources', () => {
	it('hubSource loads a sharded BF16 checkpoint by id and revision, with streamed progress', async () => {
		const folder = await loadModel(folderSource(FOLDER));
		const events: { file: string; loaded: number; total: number | null }[] = [];
		const hub = await loadModel(hubSource(ID, { revision: REVISION, host, cache: null }), { onProgress: (p) => events.push(p) });
		expectSameModel(hub, folder);
		expect(hub.source).toMatchObject({ id: ID, revision: REVISION });
		const shard = 'model-00001-of-00002.safetensors';
		const shardEvents = events.filter((e) => e.file === shard);
		const size = readFileSync(join(FOLDER, shard)).length;
		expect(shardEvents.length).toBeGreaterThan(1);
		expect(shardEvents.every((e) => e.total === size)).toBe(true);
		expect(shardEvents.map((e) => e.loaded)).toEqual([...shardEvents.map((e) => e.loaded)].sort((a, b) => a - b));
		expect(shardEvents.at(-1)!.loaded).toBe(size);
	});

	it('a wrong revision is a clear ModelLoadError', async () => {
		const load = loadModel(hubSource(ID, { revision: 'no-such-branch', host, cache: null }));
		await expect(load).rejects.toThrow(ModelLoadError);
		await expect(load).rejects.toThrow(/config\.json: not found in arith\/tiny-qwen2-bf16-sharded \(revision no-such-branch\)/);
	});

	it('the hub error code for a missing revision is reported as such', async () => {
		const hubLike = (async () => new Response('x', { status: 404, headers: { 'x-error-code': 'RevisionNotFound' } })) as typeof fetch;
		await expect(loadModel(hubSource(ID, { revision: 'nope', host, fetch: hubLike, cache: null }))).rejects.toThrow(
			/config\.json: revision 'nope' of 'arith\/tiny-qwen2-bf16-sharded' not found/
		);
	});

	it('a second load comes from the cache without touching the network', async () => {
		const cache = memoryCache();
		const first = await loadModel(hubSource(ID, { revision: REVISION, host, cache }));
		expect(cache.size()).toBe(readdirSync(FOLDER).length + 1); // + the absent model.safetensors
		const before = requests.length;
		const second = await loadModel(hubSource(ID, { revision: REVISION, host, cache }));
		expect(requests.length).toBe(before);
		expectSameModel(second, first);
	});

	it('urlSource and filesSource load the same weights', async () => {
		const folder = await loadModel(folderSource(FOLDER));
		expectSameModel(await loadModel(urlSource(`${host}/${ID}/resolve/${REVISION}/`, { cache: null })), folder);
		const dropped = new Map<string, Uint8Array | Blob>(
			readdirSync(FOLDER).map((f, i) => {
				const bytes = new Uint8Array(readFileSync(join(FOLDER, f)));
				return [`tiny-qwen2/${f}`, i % 2 ? new Blob([bytes]) : bytes];
			})
		);
		expectSameModel(await loadModel(filesSource(dropped)), folder);
	});

	it('a server error is not mistaken for a missing file', async () => {
		const failing = (async () => new Response('boom', { status: 500, statusText: 'Internal Server Error' })) as typeof fetch;
		await expect(loadModel(urlSource('http://example.invalid/m', { fetch: failing, cache: null }))).rejects.toThrow(
			/config\.json: HTTP 500 Internal Server Error from http:\/\/example\.invalid\/m\/config\.json/
		);
	});
});
