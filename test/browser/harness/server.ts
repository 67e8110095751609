// The parity harness's static server: node:http on 127.0.0.1 and a random port, serving the harness
// build at /, the fixture models at /test/fixtures/models/ and the shipped models at /models/ (the
// URLs are the repository paths, so a manifest's `model` is its URL). Records every request path.
import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, resolve, sep } from 'node:path';

const TYPES: Record<string, string> = {
	'.html': 'text/html; charset=utf-8',
	'.js': 'text/javascript',
	'.mjs': 'text/javascript',
	'.json': 'application/json',
	'.wasm': 'application/wasm'
};

export interface HarnessServer {
	origin: string;
	/** Paths requested so far, in order, with their status. */
	requests: { path: string; status: number }[];
	close(): Promise<void>;
}

export async function serveHarness(mounts: [prefix: string, folder: string][]): Promise<HarnessServer> {
	const roots = mounts.map(([prefix, folder]) => [prefix, resolve(folder)] as const).sort((a, b) => b[0].length - a[0].length);
	const requests: HarnessServer['requests'] = [];
	const server = createServer((req, res) => {
		const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
		const reply = (status: number) => (requests.push({ path, status }), res.writeHead(status).end());
		const mount = roots.find(([prefix]) => path.startsWith(prefix));
		if (!mount || req.method !== 'GET') return reply(404);
		let file = join(mount[1], path.slice(mount[0].length));
		if (file !== mount[1] && !file.startsWith(mount[1] + sep)) return reply(403);
		if (statSync(file, { throwIfNoEntry: false })?.isDirectory()) file = join(file, 'index.html');
		const stats = statSync(file, { throwIfNoEntry: false });
		if (!stats?.isFile()) return reply(404);
		requests.push({ path, status: 200 });
		res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'content-length': stats.size, 'cache-control': 'no-store' });
		createReadStream(file).pipe(res);
	});
	await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
	return {
		origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
		requests,
		close: () => new Promise((ok) => (server.closeAllConnections(), server.close(() => ok())))
	};
}
