// Browser tests (headless system Chromium through playwright-core): npx vitest run --config test/browser/vitest.config.ts
// One file at a time: each launches its own Chromium, and this machine has two cores.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
	test: {
		root: fileURLToPath(new URL('../..', import.meta.url)),
		include: ['test/browser/**/*.test.ts'],
		environment: 'node',
		fileParallelism: false,
		testTimeout: 240_000,
		hookTimeout: 180_000
	}
});
