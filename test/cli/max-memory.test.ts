// --max-memory <GiB> on every command that loads a model: it is loadModel's maxBytes, so a limit below
// the model's estimate (models/add-3d: 0.00379 GiB: weights, onnxruntime's copy and activations) refuses it with exit 2
// and one line naming the flag, and a limit above it loads the model as the default limit does.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { maxMemoryBytes } from '../../src/cli/model-source';
import { InputError } from '../../src/cli/errors';
import { runCli } from './run-cli';
import { tempDir } from '../tempDir';

const ADD = ['--model', 'models/add-3d', '--prompts', 'models/add-3d/heldout.jsonl', '--n', '20'];
const REFUSED = /^arithlens: config\.json: this model needs about 0\.00379 GiB \(weights, onnxruntime's copy and activations\), above the limit of 0\.001 GiB; raise the memory limit \(--max-memory <GiB> in the CLI\) to load it anyway\n$/;

describe('--max-memory', () => {
	it('parses a positive number of GiB, decimals allowed', () => {
		expect(maxMemoryBytes(undefined)).toBeUndefined();
		expect(maxMemoryBytes('4')).toBe(4 * 1024 ** 3);
		expect(maxMemoryBytes('0.5')).toBe(0.5 * 1024 ** 3);
		expect(maxMemoryBytes('.25')).toBe(0.25 * 1024 ** 3);
		expect(maxMemoryBytes('16.')).toBe(16 * 1024 ** 3);
		for (const bad of ['0', '0.0', '-1', '', ' ', 'abc', '2GiB', '1e3', 'Infinity', 'NaN', '0x10', '1,5']) {
			expect(() => maxMemoryBytes(bad), bad).toThrow(InputError);
			expect(() => maxMemoryBytes(bad), bad).toThrow(`--max-memory: '${bad}' is not a positive number of GiB (e.g. 4 or 0.5)`);
		}
	});

	const refusals: [string, string[]][] = [
		['capture', ['capture', '--model', 'models/add-3d', '--text', '123+456=']],
		['eval', ['eval', ...ADD]],
		['scan', ['scan', ...ADD, '--method', 'zero']],
		['circuit', ['circuit', ...ADD, '--top', '2']],
		['subtasks', ['subtasks', '--model', 'models/mul-2d', '--prompts', 'models/mul-2d/heldout.jsonl', '--n', '20']]
	];
	it.each(refusals)('%s: a limit below the estimate refuses the model (exit 2, one line), writing nothing', async (command, args) => {
		const dir = tempDir('arithlens-cli-');
		const out = command === 'capture' ? ['--out', join(dir, 'x.safetensors')] : ['--json', join(dir, 'x.json')];
		const r = await runCli([...args, ...out, '--max-memory', '0.001']);
		expect(r.code, r.stderr).toBe(2);
		expect(r.stderr).toMatch(REFUSED);
		expect(r.stdout).toBe('');
		expect(readdirSync(dir)).toEqual([]);
	});

	it.each(refusals.map(([c]) => c))('%s --help documents --max-memory', async (command) => {
		const r = await runCli([command, '--help']);
		expect(r.code).toBe(0);
		expect(r.stdout).toContain('--max-memory <GiB>');
	});

	it('a bad value exits 2 with one line before loading anything', async () => {
		for (const args of [['capture', '--model', 'models/add-3d', '--text', '1+2=', '--out', join(tempDir('arithlens-cli-'), 'x.json')], ['eval', ...ADD]]) {
			for (const bad of ['--max-memory=-1', '--max-memory=0']) {
				const r = await runCli([...args, bad]);
				expect(r.code, r.stderr).toBe(2);
				expect(r.stderr).toBe(`arithlens: --max-memory: '${bad.split('=')[1]}' is not a positive number of GiB (e.g. 4 or 0.5)\n`);
			}
		}
	});

	it('eval: a limit above the estimate (0.5, below the 2 GiB default) loads it; the result equals the default run', async () => {
		const [limited, dflt] = await Promise.all([runCli(['eval', ...ADD, '--max-memory', '0.5']), runCli(['eval', ...ADD])]);
		expect(limited.code, limited.stderr).toBe(0);
		expect(dflt.code, dflt.stderr).toBe(0);
		expect(JSON.parse(limited.stdout)).toEqual(JSON.parse(dflt.stdout));
		expect(JSON.parse(limited.stdout).n).toBe(20);
	});

	it('capture: the limit is the estimate itself, to three digits: 0.00378 refuses, 0.00379 loads', async () => {
		const out = join(tempDir('arithlens-cli-'), 'x.json');
		const args = ['capture', '--model', 'models/add-3d', '--text', '123+456=', '--out', out];
		const below = await runCli([...args, '--max-memory', '0.00378']);
		expect(below.code).toBe(2);
		expect(below.stderr).toMatch(/needs about 0\.00379 GiB .*above the limit of 0\.00378 GiB/);
		const above = await runCli([...args, '--max-memory', '0.00379']);
		expect(above.code, above.stderr).toBe(0);
		expect(above.stdout).toMatch(/^wrote 1 tensor for 9 tokens/);
	});
});
