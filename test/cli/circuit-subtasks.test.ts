// `arithlens subtasks` and `arithlens circuit` on the shipped models: the per-digit and per-subtask
// accuracy equal the PyTorch reference's measurement (models/<name>/eval.json), the circuit table's
// rows are consistent with each other and bad input exits 2; --only-correct keeps exactly the prompts
// `arithlens eval` marks correct.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './run-cli';
import { tempDir } from '../tempDir';

const evalOf = (name: string) => JSON.parse(readFileSync(`models/${name}/eval.json`, 'utf8'));

describe('arithlens subtasks', () => {
	it('mul-2d: accuracy per answer digit and per subtask class equal the reference', async () => {
		const out = join(tempDir('arithlens-cli-'), 'subtasks.json');
		const r = await runCli(['subtasks', '--model', 'models/mul-2d', '--prompts', 'models/mul-2d/heldout.jsonl', '--json', out]);
		expect(r.code, r.stderr).toBe(0);
		const ref = evalOf('mul-2d');
		const got = JSON.parse(readFileSync(out, 'utf8'));
		expect(got.reversed).toBe(true);
		expect(got.n).toBe(ref.n);
		got.digits.forEach((d: { digit: number; accuracy: number; n: number }) => {
			// reversed answers: answer position i writes the 10^i digit
			expect(d.accuracy).toBeCloseTo(ref.per_position_accuracy[d.digit], 10);
			expect(d.n).toBe(ref.per_position_n[d.digit]);
		});
		for (const c of got.classes) {
			expect(c.accuracy).toBeCloseTo(ref.per_subtask_accuracy[c.class], 10);
			expect(c.n).toBe(ref.per_subtask_n[c.class]);
		}
		expect(got.heads_top).toHaveLength(4);
		expect(r.stdout).toContain('| US10 | 459 |');
	});

	it('refuses a prompt set without multiplications (exit 2, one line)', async () => {
		const r = await runCli(['subtasks', '--model', 'models/add-3d', '--prompts', 'models/add-3d/heldout.jsonl', '--n', '20']);
		expect(r.code).toBe(2);
		expect(r.stderr.trim().split('\n')).toHaveLength(1);
	});
});

describe('arithlens circuit', () => {
	it('add-3d: the rows are consistent and the top set matters more than random sets of its size', async () => {
		const dir = tempDir('arithlens-cli-');
		const out = join(dir, 'circuit.json');
		const r = await runCli(['circuit', '--model', 'models/add-3d', '--prompts', 'models/add-3d/heldout.jsonl', '--n', '400', '--top-percent', '10', '--json', out]);
		expect(r.code, r.stderr).toBe(0);
		const got = JSON.parse(readFileSync(out, 'utf8'));
		expect(got.heads).toHaveLength(2); // ceil(10% of 12)
		expect(got.random.sets).toHaveLength(10);
		expect(got.full.accuracy).toBeGreaterThan(0.99);
		expect(got.ablated.accuracy).toBeLessThan(got.random.ablated.accuracy.mean);
		expect(got.circuit.logprob).toBeGreaterThanOrEqual(got.empty.logprob);
		const f = (got.circuit.logprob - got.empty.logprob) / (got.full.logprob - got.empty.logprob);
		expect(got.faithfulness).toBeCloseTo(f, 10);
		expect(r.stdout).toContain('| set ablated |');
	});

	it('needs --top or --top-percent and writes nothing on failure', async () => {
		const dir = tempDir('arithlens-cli-');
		const r = await runCli(['circuit', '--model', 'models/add-3d', '--task', 'add-3d', '--json', join(dir, 'x.json')]);
		expect(r.code).toBe(2);
		expect(r.stderr).toMatch(/--top/);
		expect(readdirSync(dir)).toEqual([]);
	});
});

describe('--only-correct', () => {
	it('scans exactly the prompts eval marks correct, so the clean accuracy is 1', async () => {
		const dir = tempDir('arithlens-cli-');
		const args = ['--model', 'models/add-3d-llama', '--prompts', 'models/add-3d-llama/heldout.jsonl', '--n', '400'];
		const ev = await runCli(['eval', ...args, '--json', join(dir, 'eval.json')]);
		expect(ev.code, ev.stderr).toBe(0);
		const correct = JSON.parse(readFileSync(join(dir, 'eval.json'), 'utf8')).prompts.filter((p: { correct: boolean }) => p.correct).length;
		expect(correct).toBeLessThan(400); // the test needs a model that misses some of them
		const sc = await runCli(['scan', ...args, '--method', 'zero', '--only-correct', '--json', join(dir, 'scan.json')]);
		expect(sc.code, sc.stderr).toBe(0);
		const scan = JSON.parse(readFileSync(join(dir, 'scan.json'), 'utf8'));
		expect(scan.provenance.n_prompts).toBe(correct);
		expect(scan.clean.accuracy).toBe(1);
	});
});
