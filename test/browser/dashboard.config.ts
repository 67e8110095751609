// Vitest config of the dashboard browser tests: `npx vitest run -c test/browser/dashboard.config.ts`.
// They drive the built app (npm run build) in system Chromium, one file at a time.
import { defineConfig } from 'vitest/config';

export default defineConfig({
	test: {
		include: ['test/browser/dashboard*.test.ts'],
		environment: 'node',
		fileParallelism: false,
		testTimeout: 300_000,
		hookTimeout: 300_000
	}
});
