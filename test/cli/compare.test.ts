// `arithlens scan --compare`: the second model's table and the difference (b − a) equal two separate
// scans of the same prompts; models of another shape are refused with exit 2 and one line.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../tempDir';
import { runCli } from './run-cli';

type Entry = { layer: number; head: number; score: number; rank: number };
const PROMPTS = ['--prompts', 'models/mul-2d/heldout.jsonl', '--n', '40'];

describe('arithlens scan --compare', () => {
	it('mul-2d checkpoint 500 vs the final model: both tables and their difference equal two separate scans', async () => {
		const dir = tempDir('arithlens-cli-');
		const [both, csv, a, b] = ['both.json', 'both.csv', 'a.json', 'b.json'].map((f) => join(dir, f));
		const early = 'models/mul-2d/checkpoints/step-500';
		const r = await runCli(['scan', '--model', early, ...PROMPTS, '--method', 'mean', '--compare', 'models/mul-2d', '--json', both, '--csv', csv]);
		expect(r.code, r.stderr).toBe(0);
		expect(r.stdout).toMatch(/compared with mul-2d: largest changes L\dH\d [+-]\d/);
		for (const [model, out] of [[early, a], ['models/mul-2d', b]]) expect((await runCli(['scan', '--model', model, ...PROMPTS, '--method', 'mean', '--json', out])).code).toBe(0);
		const [got, first, second] = [both, a, b].map((f) => JSON.parse(readFileSync(f, 'utf8')));
		expect(got.heads).toEqual(first.heads);
		expect(got.compare.heads).toEqual(second.heads);
		expect(got.compare.model.id).toBe('mul-2d');
		const score = (t: { heads: Entry[] }, l: number, h: number) => t.heads.find((e) => e.layer === l && e.head === h)!.score;
		for (const d of got.difference.heads) expect(d.difference).toBeCloseTo(score(second, d.layer, d.head) - score(first, d.layer, d.head), 9);
		expect(got.difference.clean.accuracy).toBeCloseTo(second.clean.accuracy - first.clean.accuracy, 9);
		const rows = readFileSync(csv, 'utf8').trim().split('\n');
		expect(rows[0]).toBe('layer,head,score_a,score_b,difference,rank_a,rank_b');
		expect(rows).toHaveLength(1 + 12 + 3); // 12 heads, 3 MLP rows
	});

	it('a model of another shape: exit 2, one line', async () => {
		const r = await runCli(['scan', '--model', 'models/add-3d', '--task', 'add-3d', '--n', '4', '--method', 'zero', '--compare', 'test/fixtures/models/tiny-gpt2']);
		expect(r.code).toBe(2);
		expect(r.stderr.trim().split('\n')).toHaveLength(1);
		expect(r.stderr).toMatch(/do not cover the same heads \(12 and 8\)/);
	});
});
