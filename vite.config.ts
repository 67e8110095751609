import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig, type Plugin } from 'vite';
import { serveModels } from './scripts/serve-models';

/**
 * Cross-origin isolation (COOP same-origin + COEP require-corp) gives the page SharedArrayBuffer, so
 * onnxruntime-web runs WASM with threads. Everything the app loads is same-origin, which COEP allows.
 */
const ISOLATION = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

/**
 * Vite applies server.headers / preview.headers only to the files it serves itself; SvelteKit's
 * preview serves the built pages and the models middleware serves /models/, so the headers are also
 * set here, first, on every response of the dev and preview servers.
 */
function crossOriginIsolation(): Plugin {
	const handler = (_req: unknown, res: import('node:http').ServerResponse, next: () => void) => {
		for (const [name, value] of Object.entries(ISOLATION)) res.setHeader(name, value);
		next();
	};
	return {
		name: 'arithlens-cross-origin-isolation',
		enforce: 'pre',
		configureServer: (server) => void server.middlewares.use(handler),
		configurePreviewServer: (server) => void server.middlewares.use(handler)
	};
}

/**
 * Static hosts send no COOP/COEP headers: coi-serviceworker (src/app.html registers it only when the
 * page is not already isolated) adds them from a service worker. Its script is served from our own
 * origin, at the site root so its scope covers the whole app: emitted into the client build, and
 * served by the dev and preview servers.
 */
function coiServiceWorker(): Plugin {
	const NAME = 'coi-serviceworker.js';
	const source = () => readFileSync(createRequire(import.meta.url).resolve(`coi-serviceworker/${NAME}`), 'utf8');
	const handler = (req: { url?: string }, res: import('node:http').ServerResponse, next: () => void) => {
		if ((req.url ?? '').split('?')[0] !== `/${NAME}`) return next();
		res.setHeader('Content-Type', 'text/javascript');
		res.end(source());
	};
	return {
		name: 'arithlens-coi-serviceworker',
		configureServer: (server) => void server.middlewares.use(handler),
		configurePreviewServer: (server) => void server.middlewares.use(handler),
		generateBundle(options) {
			if (this.environment?.name === 'client' || (!this.environment && !options.dir?.includes('server')))
				this.emitFile({ type: 'asset', fileName: NAME, source: source() });
		}
	};
}

export default defineConfig({
	plugins: [crossOriginIsolation(), sveltekit(), serveModels(), coiServiceWorker()],
	server: { host: '127.0.0.1', fs: { allow: ['models'] }, headers: ISOLATION },
	preview: { host: '127.0.0.1', headers: ISOLATION },
	optimizeDeps: { exclude: ['onnxruntime-web'] },
	test: {
		include: ['test/**/*.test.ts'],
		exclude: ['test/browser/**'],
		environment: 'node',
		testTimeout: 120_000,
		hookTimeout: 120_000
	}
});
