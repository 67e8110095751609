import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig } from 'vite';
import { serveModels } from './scripts/serve-models';

export default defineConfig({
	plugins: [sveltekit(), serveModels()],
	server: { host: '127.0.0.1', fs: { allow: ['models'] } },
	preview: { host: '127.0.0.1' },
	optimizeDeps: { exclude: ['onnxruntime-web'] },
	test: {
		include: ['test/**/*.test.ts'],
		exclude: ['test/browser/**'],
		environment: 'node',
		testTimeout: 120_000,
		hookTimeout: 120_000
	}
});
