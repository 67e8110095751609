// Spawns the real CLI (node bin/arithlens.js) with piped stdio, as a user's shell or script would.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../engine/fixtures';

export interface CliResult {
	code: number | null;
	stdout: string;
	stderr: string;
}

export function runCli(args: string[]): Promise<CliResult> {
	return new Promise((resolve, reject) => {
		const child = spawn(process.execPath, [join(ROOT, 'bin/arithlens.js'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
		let [stdout, stderr] = ['', ''];
		child.stdout.on('data', (d) => (stdout += d));
		child.stderr.on('data', (d) => (stderr += d));
		child.on('error', reject);
		child.on('close', (code) => resolve({ code, stdout, stderr }));
	});
}
