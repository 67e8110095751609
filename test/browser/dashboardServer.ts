// A small static server for the browser tests: the built app (build/) at /, and test fixture model
// folders at /fixtures/models/, on 127.0.0.1 and an ephemeral port. GET and HEAD only, no listing.
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize, resolve } from 'node:path';

const TYPES: Record<string, string> = {
	'.html': 'text/html; charset=utf-8',
	'.js': 'text/javascript',
	'.mjs': 'text/javascript',
	'.css': 'text/css',
	'.json': 'application/json',
	'.jsonl': 'application/jsonl',
	'.svg': 'image/svg+xml',
	'.wasm': 'application/wasm',
	'.md': 'text/markdown; charset=utf-8'
};

export interface StaticServer {
	url: string;
	close(): Promise<void>;
}

/** Serve `mounts` (URL prefix -> folder); '/' should come last. A folder path serves its index.html. */
export async function serveStatic(mounts: [prefix: string, folder: string][]): Promise<StaticServer> {
	const roots = mounts.map(([prefix, folder]) => [prefix, resolve(folder)] as const);
	const server: Server = createServer((req, res) => {
		const path = decodeURIComponent((req.url ?? '/').split('?')[0]);
		const mount = roots.find(([prefix]) => path.startsWith(prefix));
		if (!mount || (req.method !== 'GET' && req.method !== 'HEAD')) return void res.writeHead(404).end();
		let file = normalize(join(mount[1], path.slice(mount[0].length)));
		if (!file.startsWith(mount[1])) return void res.writeHead(403).end();
		if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
		if (!existsSync(file) || !statSync(file).isFile()) return void res.writeHead(404).end();
		res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'content-length': statSync(file).size });
		if (req.method === 'HEAD') return void res.end();
		createReadStream(file).pipe(res);
	});
	await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
	const { port } = server.address() as { port: number };
	return { url: `http://127.0.0.1:${port}`, close: () => new Promise((ok) => server.close(() => ok())) };
}
