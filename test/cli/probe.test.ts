// The reliability probe: inputs that used to end in a stack trace (exit 1), a hang, a half-written or
// mixed output, or a silently wrong result. Each case asserts the exit code, the exact one-line
// reason on stderr, that nothing (not even a temporary file) was written, and a time bound.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { headTableCsv } from '../../src/lib/core/export/headTable';
import { writeAllAtomic } from '../../src/cli/output';
import { ROOT } from '../engine/fixtures';
import { tempDir } from '../tempDir';
import { runCli, type CliResult } from './run-cli';

const BOUND_MS = 10_000;

/** Runs the CLI and checks it took under BOUND_MS. */
async function timed(args: string[]): Promise<CliResult> {
	const started = Date.now();
	const r = await runCli(args);
	expect(Date.now() - started, `arithlens ${args.join(' ')}`).toBeLessThan(BOUND_MS);
	return r;
}

/** Exit 2, exactly one line `arithlens: <message>` on stderr, nothing on stdout. */
function expectRefused(r: CliResult, message: RegExp): void {
	expect([r.code, r.stdout], r.stderr).toEqual([2, '']);
	expect(r.stderr).toMatch(/^arithlens: [^\n]+\n$/);
	expect(r.stderr.slice('arithlens: '.length, -1)).toMatch(message);
}

const ADD = ['--model', 'models/add-3d'];

describe('bad input exits 2 with one line, fast', () => {
	it('--n above the number of distinct problems of the task: refused before the model loads, no hang', async () => {
		expectRefused(await timed(['eval', ...ADD, '--task', 'add:3', '--n', '1000001']), /^--n: 1000001 is more than the 1000000 distinct problems of task 'add:3'$/);
		expectRefused(await timed(['scan', ...ADD, '--task', 'sub:1', '--n', '56', '--method', 'zero']), /^--n: 56 is more than the 55 distinct problems of task 'sub:1'$/);
	});

	it('a prompt file above 256 MB is refused before it is read (a bigger string than V8 holds crashed the CLI); bad JSON in it is not quoted at length', async () => {
		const dir = tempDir('arithlens-probe-');
		const big = join(dir, 'big.jsonl');
		writeFileSync(big, '');
		truncateSync(big, 300 * 1024 ** 2); // sparse: no 300 MB written
		expectRefused(await timed(['eval', ...ADD, '--prompts', big]), /^--prompts: '.*big\.jsonl' is 300 MB, above the 256 MB limit for a prompt file$/);
		const bad = join(dir, 'bad.jsonl');
		writeFileSync(bad, `{"prompt": "12+34=", "answer": ${'"x'.repeat(5000)}\n`);
		const r = await timed(['eval', ...ADD, '--prompts', bad]);
		expect(r.code).toBe(2);
		expect(r.stderr.length).toBeLessThan(400);
	});

	it("a prompt set whose kept activations exceed the memory limit: refused before it is drawn (add:3 keeps ~100 KB a prompt)", async () => {
		expectRefused(
			await timed(['scan', ...ADD, '--task', 'add:3', '--n', '1000000', '--method', 'mean', '--json', join(tempDir('arithlens-probe-'), 'x.json')]),
			/^--n: 1000000 prompts of up to \d+ tokens would keep about [\d.]+ GiB of activations during the scan \(plus [\d.]+ GiB for the model\), above the limit of 2 GiB; use a smaller --n or raise --max-memory$/
		);
	});

	it('pad= above 64 digits', async () => {
		expectRefused(await timed(['eval', ...ADD, '--task', 'add:3:pad=99999999999']), /^task spec 'add:3:pad=99999999999': pad=99999999999 is above the limit of 64 digits$/);
	});

	it('circuit --scan naming heads the model lacks, and plan --scan listing a head twice', async () => {
		const dir = tempDir('arithlens-probe-');
		const heads = [{ layer: 0, head: 0, rank: 1 }, { layer: 7, head: 2, rank: 2 }];
		writeFileSync(join(dir, 'other.json'), JSON.stringify({ heads }));
		const json = join(dir, 'out.json');
		const r = await timed(['circuit', ...ADD, '--task', 'add-3d', '--n', '8', '--top', '2', '--scan', join(dir, 'other.json'), '--json', json]);
		expectRefused(r, /^--scan: '.*other\.json' names head L7H2, which models\/add-3d lacks \(3 layers of 4 heads\)$/);
		writeFileSync(join(dir, 'dup.json'), JSON.stringify({ heads: [heads[0], { ...heads[0], rank: 2 }] }));
		expectRefused(await timed(['plan', '--scan', join(dir, 'dup.json'), '--top', '1', '--format', 'mask', ...ADD]), /^--scan: '.*dup\.json' lists head L0H0 twice$/);
		expect(readdirSync(dir).sort()).toEqual(['dup.json', 'other.json']);
	});

	it('numeric flags are plain decimals: 0x10, 1e1, empty and signs are refused, not read as numbers', async () => {
		const dir = tempDir('arithlens-probe-');
		writeFileSync(join(dir, 'scan.json'), JSON.stringify({ heads: [{ layer: 0, head: 0, rank: 1 }] }));
		const plan = (p: string) => timed(['plan', '--scan', join(dir, 'scan.json'), '--top-percent', p, '--format', 'mask', ...ADD]);
		expectRefused(await plan('0x10'), /^--top-percent: '0x10' is not a decimal number > 0 and <= 100$/);
		expectRefused(await plan('1e1'), /^--top-percent: '1e1' is not a decimal number > 0 and <= 100$/);
		expectRefused(await timed(['eval', ...ADD, '--task', 'add:3', '--n', '0x10']), /^--n: '0x10' is not an integer >= 1$/);
		expectRefused(await timed(['eval', ...ADD, '--task', 'add:3', '--n', '']), /^--n: '' is not an integer >= 1$/);
		expect((await plan('12.5')).code).toBe(0);
	});

	it('output paths that cannot be written: empty, missing folder, a file as folder, a read-only folder', async () => {
		const dir = tempDir('arithlens-probe-');
		writeFileSync(join(dir, 'file'), 'x');
		const evalTo = (path: string) => timed(['eval', ...ADD, '--task', 'add:3', '--n', '4', '--json', path]);
		expectRefused(await evalTo(''), /^--json: empty path$/);
		expectRefused(await evalTo(join(dir, 'none', 'x.json')), /^--json: no folder '.*none'$/);
		expectRefused(await evalTo(join(dir, 'file', 'x.json')), /^--json: '.*file' is not a folder$/);
		expectRefused(await timed(['capture', ...ADD, '--text', '1+2=', '--out', join(dir, 'file', 'x.json')]), /^--out: '.*file' is not a folder$/);
		expect(readdirSync(dir)).toEqual(['file']);
	});

	it.skipIf(process.getuid?.() === 0)('an output folder without write permission (EACCES; root may write anywhere)', async () => {
		const dir = tempDir('arithlens-probe-');
		chmodSync(dir, 0o500);
		try {
			expectRefused(await timed(['eval', ...ADD, '--task', 'add:3', '--n', '4', '--json', join(dir, 'x.json')]), /^--json: cannot write in folder '.*' \(EACCES\)$/);
		} finally {
			chmodSync(dir, 0o700);
		}
		expect(readdirSync(dir)).toEqual([]);
	});
});

describe('nothing lost or half-written', () => {
	it('--json and --csv naming the same file (also through another spelling of the path)', async () => {
		const dir = tempDir('arithlens-probe-');
		const r = await timed(['scan', ...ADD, '--task', 'add-3d', '--n', '4', '--method', 'zero', '--json', join(dir, 'a'), '--csv', join(dir, '.', 'a')]);
		expectRefused(r, /^--csv: '.*a' is the same file as --json$/);
		expect(readdirSync(dir)).toEqual([]);
	});

	it('an output equal to an input: the prompt file, a file of the model folder', async () => {
		const dir = tempDir('arithlens-probe-');
		cpSync(join(ROOT, 'models/add-3d'), join(dir, 'model'), { recursive: true });
		const model = join(dir, 'model');
		const config = readFileSync(join(model, 'config.json'));
		const prompts = join(dir, 'p.jsonl');
		writeFileSync(prompts, '{"prompt": "1+2=", "answer": "3"}\n');
		expectRefused(await timed(['eval', '--model', model, '--prompts', prompts, '--json', prompts]), /^--json: '.*p\.jsonl' is the --prompts file; write the output elsewhere$/);
		expectRefused(await timed(['scan', '--model', model, '--prompts', prompts, '--method', 'zero', '--csv', join(model, 'config.json')]), /^--csv: '.*config\.json' is a file of the model folder '.*model'; write the output elsewhere$/);
		expect(readFileSync(join(model, 'config.json'))).toEqual(config);
		expect(readFileSync(prompts, 'utf8')).toBe('{"prompt": "1+2=", "answer": "3"}\n');
		expect(readdirSync(dir).sort()).toEqual(['model', 'p.jsonl']);
	});

	it("a run's outputs land together or not at all: one unwritable target leaves no file and no temporary", () => {
		const dir = tempDir('arithlens-probe-');
		writeFileSync(join(dir, 'keep.json'), 'before');
		const files = [{ path: join(dir, 'keep.json'), data: 'after', flag: 'json' }, { path: join(dir, 'gone', 'x.csv'), data: 'x', flag: 'csv' }];
		expect(() => writeAllAtomic(files)).toThrow(/^--csv: cannot write '.*x\.csv': no such folder \(ENOENT\)$/);
		expect(readFileSync(join(dir, 'keep.json'), 'utf8')).toBe('before');
		expect(readdirSync(dir)).toEqual(['keep.json']);
	});

	it('a lock left by a killed run is taken over', () => {
		const dir = tempDir('arithlens-probe-');
		const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
		writeFileSync(join(dir, 'x.json.lock'), `${dead}\n`);
		writeAllAtomic([{ path: join(dir, 'x.json'), data: 'ok' }]);
		expect(readdirSync(dir)).toEqual(['x.json']);
	});

	it('two concurrent scans on the same --json/--csv pair leave both files from one run', async () => {
		const dir = tempDir('arithlens-probe-');
		const [json, csv] = [join(dir, 'heads.json'), join(dir, 'heads.csv')];
		const scan = (seed: string) => runCli(['scan', ...ADD, '--task', 'add-3d', '--n', '16', '--seed', seed, '--method', 'zero', '--json', json, '--csv', csv]);
		for (let round = 0; round < 2; round++) {
			const started = Date.now();
			const rs = await Promise.all([scan('1'), scan('2')]);
			expect(Date.now() - started).toBeLessThan(BOUND_MS);
			expect(rs.map((r) => r.code)).toEqual([0, 0]);
			expect(readFileSync(csv, 'utf8')).toBe(headTableCsv(JSON.parse(readFileSync(json, 'utf8')).heads));
			expect(readdirSync(dir).sort()).toEqual(['heads.csv', 'heads.json']);
		}
	});

	it('SIGINT during a long scan: exit 130, no temporary file left', async () => {
		const dir = tempDir('arithlens-probe-');
		const args = ['scan', '--model', 'models/mul-2d', '--task', 'mul:2', '--n', '2000', '--method', 'mean', '--json', join(dir, 'h.json'), '--csv', join(dir, 'h.csv')];
		const child = spawn(process.execPath, [join(ROOT, 'bin/arithlens.js'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
		let stderr = '';
		child.stderr.on('data', (d) => (stderr += d));
		const started = Date.now();
		const exit = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (code, signal) => resolve([code, signal])));
		await new Promise((resolve) => setTimeout(resolve, 1500));
		child.kill('SIGINT');
		expect(await exit, stderr).toEqual([130, null]);
		expect(Date.now() - started).toBeLessThan(BOUND_MS);
		expect(readdirSync(dir)).toEqual([]);
	});

	it('stdout closed early (`| head`): a quiet exit, no EPIPE stack', async () => {
		const child = spawn(process.execPath, [join(ROOT, 'bin/arithlens.js'), 'eval', '--model', 'models/mul-2d', '--task', 'mul:2', '--n', '2000'], {
			cwd: ROOT,
			stdio: ['ignore', 'pipe', 'pipe']
		});
		child.stdout.destroy(); // the reader is gone before the ~400 kB of JSON is written
		let stderr = '';
		child.stderr.on('data', (d) => (stderr += d));
		const started = Date.now();
		const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
		expect([code, stderr]).toEqual([0, '']);
		expect(Date.now() - started).toBeLessThan(BOUND_MS);
	});
});

describe('no silently wrong results', () => {
	it('export provenance names the model folder and the prompt file, not their paths on this machine', async () => {
		const dir = tempDir('arithlens-probe-');
		const prompts = join(dir, 'p.jsonl');
		writeFileSync(prompts, '{"prompt": "123+456=", "answer": "579"}\n{"prompt": "100+200=", "answer": "300"}\n');
		const out = join(dir, 'heads.json');
		const r = await timed(['scan', '--model', join(ROOT, 'models/add-3d'), '--prompts', prompts, '--method', 'zero', '--json', out]);
		expect(r.code, r.stderr).toBe(0);
		const text = readFileSync(out, 'utf8');
		expect(JSON.parse(text).provenance).toMatchObject({ model: { id: 'add-3d' }, prompt_file: 'p.jsonl' });
		expect(text).not.toContain(dir);
		expect(text).not.toContain(ROOT);
		expect(existsSync(out)).toBe(true);
	});
});
