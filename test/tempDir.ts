// Temporary folders for tests: each is removed when the test file that made it finishes (the
// afterAll registers when a test file imports this module), so runs leave nothing in the temp folder.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

const made: string[] = [];
afterAll(() => {
	for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A fresh empty folder under the system temp folder, named `${prefix}XXXXXX`. */
export function tempDir(prefix = 'arithlens-test-'): string {
	const dir = mkdtempSync(join(tmpdir(), prefix));
	made.push(dir);
	return dir;
}
