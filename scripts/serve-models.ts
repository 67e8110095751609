// Serves the shipped models/ folder at /models/ in dev and preview, and copies it into the static
// build, so the dashboard works offline from any static host.
import { cpSync, createReadStream, existsSync, statSync } from 'node:fs';
import { join, normalize, resolve } from 'node:path';
import type { Plugin } from 'vite';

const MODELS = resolve('models');

function handler(req: { url?: string }, res: import('node:http').ServerResponse, next: () => void) {
	const url = (req.url ?? '').split('?')[0];
	if (!url.startsWith('/models/')) return next();
	const file = normalize(join(MODELS, decodeURIComponent(url.slice('/models/'.length))));
	if (!file.startsWith(MODELS) || !existsSync(file) || !statSync(file).isFile()) return next();
	res.setHeader('Content-Length', statSync(file).size);
	createReadStream(file).pipe(res);
}

export function serveModels(): Plugin {
	return {
		name: 'arithlens-serve-models',
		configureServer(server) {
			server.middlewares.use(handler);
		},
		configurePreviewServer(server) {
			server.middlewares.use(handler);
		},
		closeBundle() {
			// Copy shipped model folders (not the training code) next to the built pages.
			if (!existsSync('build')) return;
			cpSync(MODELS, 'build/models', {
				recursive: true,
				filter: (src) => !src.includes(`${MODELS}/train`) && !src.includes('__pycache__')
			});
		}
	};
}
