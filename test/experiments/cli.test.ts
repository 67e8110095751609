// `arithlens eval | scan | plan` end to end: the real CLI (node bin/arithlens.js) on the tiny GPT-2
// fixture model and its prompts, compared with the reference (per-prompt clean metrics, scan scores);
// bad input exits 2 with one line on stderr and writes nothing.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { headMaskPlan, loraPlan } from '../../src/lib/core/export/plan';
import { readFixture, ROOT } from '../engine/fixtures';
import { runCli } from '../cli/run-cli';
import { expectClose, type ScanManifest } from './helpers';
import { tempDir } from '../tempDir';

const fx = readFixture('tiny-gpt2');
const MODEL = fx.modelDir;
const manifest = JSON.parse(readFileSync(join(ROOT, 'test/fixtures/tiny-gpt2.json'), 'utf8')) as ScanManifest & { spec: never };
const perPrompt = JSON.parse(readFileSync(join(ROOT, 'test/fixtures/metrics/tiny-gpt2.json'), 'utf8')).metrics.clean as {
	logprob: number[];
	accuracy: number[];
	position_correct: boolean[][];
};
const TOL = manifest.tolerance;

function promptFile(records: unknown[]): { dir: string; path: string; sha: string } {
	const dir = tempDir('arithlens-exp-');
	const text = records.map((r) => JSON.stringify(r) + '\n').join('');
	const path = join(dir, 'prompts.jsonl');
	writeFileSync(path, text);
	return { dir, path, sha: createHash('sha256').update(text).digest('hex') };
}

describe('arithlens eval', () => {
	it('prints accuracy, logprob, per-position accuracy and per-prompt values equal to the reference', async () => {
		const { path } = promptFile(manifest.prompts);
		const r = await runCli(['eval', '--model', MODEL, '--prompts', path]);
		expect(r.code, r.stderr).toBe(0);
		const out = JSON.parse(r.stdout);
		expect(Object.keys(out)).toEqual(['accuracy', 'n', 'logprob', 'per_position_accuracy', 'prompts']);
		expect(out.n).toBe(4);
		expectClose('eval accuracy, logprob', [out.accuracy, out.logprob], [manifest.scans.zero.clean!.accuracy, manifest.scans.zero.clean!.logprob], TOL);
		const positions = [0, 1].map((i) => perPrompt.position_correct.filter((p) => p[i]).length / 4);
		expect(out.per_position_accuracy).toEqual(positions);
		expect(out.prompts.map((p: { prompt: string; answer: string }) => [p.prompt, p.answer])).toEqual(manifest.prompts.map((p) => [p.prompt, p.answer]));
		expect(out.prompts.map((p: { correct: boolean }) => p.correct)).toEqual(perPrompt.accuracy.map((a) => a === 1));
		expectClose('eval per-prompt logprob', out.prompts.map((p: { logprob: number }) => p.logprob), perPrompt.logprob, TOL);
	});

	it('writes --json for a generated task and prints a summary', async () => {
		const dir = tempDir('arithlens-exp-');
		const out = join(dir, 'eval.json');
		const r = await runCli(['eval', '-m', MODEL, '--task', 'add:2', '--n', '12', '--seed', '3', '--json', out]);
		expect(r.code, r.stderr).toBe(0);
		expect(r.stdout).toMatch(/^accuracy .* on 12 prompts/);
		const res = JSON.parse(readFileSync(out, 'utf8'));
		expect(res.n).toBe(12);
		expect(res.prompts).toHaveLength(12);
		expect(res.accuracy).toBe(res.prompts.filter((p: { correct: boolean }) => p.correct).length / 12);
		expect(readdirSync(dir)).toEqual(['eval.json']);
	});
});

describe('arithlens scan', () => {
	it('writes the mean-ablation head table (JSON and CSV) with every head once, equal to the reference', async () => {
		const { dir, path, sha } = promptFile(manifest.prompts);
		const [json, csv] = [join(dir, 'heads.json'), join(dir, 'heads.csv')];
		const r = await runCli(['scan', '--model', MODEL, '--prompts', path, '--method', 'mean', '--json', json, '--csv', csv]);
		expect(r.code, r.stderr).toBe(0);
		const table = JSON.parse(readFileSync(json, 'utf8'));
		expect(Object.keys(table)).toEqual(['provenance', 'clean', 'heads', 'mlps']);
		expect(table.provenance).toMatchObject({ arithlens_version: '0.1.0', prompt_file_sha256: sha, method: 'mean', metric: 'logprob', n_prompts: 4, seed: null, backend: 'node' });
		expect(table.provenance.model.weights_sha256).toMatch(/^[0-9a-f]{64}$/);
		expect(table.heads).toHaveLength(8);
		expect(new Set(table.heads.map((h: { layer: number; head: number }) => `${h.layer},${h.head}`)).size).toBe(8);
		expect(table.heads.map((h: { rank: number }) => h.rank)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
		const byIndex = (key: string) => {
			const out = new Array(8);
			for (const h of table.heads) out[h.layer * 4 + h.head] = h[key];
			return out;
		};
		expectClose('cli mean score', byIndex('score'), fx.float('scan.mean.heads.logprob'), TOL);
		expectClose('cli mean accuracy_drop', byIndex('accuracy_drop'), fx.float('scan.mean.heads.accuracy'), TOL);
		const mlps = new Array(2);
		for (const m of table.mlps) mlps[m.layer] = m.score;
		expectClose('cli mean mlps', mlps, fx.float('scan.mean.mlps.logprob'), TOL);
		const lines = readFileSync(csv, 'utf8').trim().split('\n');
		expect(lines[0]).toBe('layer,head,score,rank,accuracy_drop,logprob_drop,accuracy_drop_pos0,accuracy_drop_pos1');
		expect(lines.slice(1).map((l) => l.split(',').slice(0, 2).join(','))).toEqual(table.heads.map((h: { layer: number; head: number }) => `${h.layer},${h.head}`));
		expect(readdirSync(dir).sort()).toEqual(['heads.csv', 'heads.json', 'prompts.jsonl']);
	});

	it.each([
		['resample', ['--perm', '1,0,3,2'], 'scan.resample.heads.logprob', 'logprob'],
		['patch', ['--metric', 'logit-diff'], 'scan.patch.heads.logit_diff', 'logit-diff'],
		['path', [], 'scan.path.heads.answer_logit_rel', 'answer_logit_rel']
	])('%s scores on stdout equal the reference', async (method, extra, tensor, metric) => {
		const { path } = promptFile(manifest.prompts);
		const r = await runCli(['scan', '--model', MODEL, '--prompts', path, '--method', method, ...extra]);
		expect(r.code, r.stderr).toBe(0);
		const table = JSON.parse(r.stdout);
		expect(table.provenance.metric).toBe(metric);
		const scores = new Array(8);
		for (const h of table.heads) scores[h.layer * 4 + h.head] = h.score;
		// patching scores are ratios over a 0.27 logit-diff gap, path changes over |logit| ~0.6: tolerance scaled as in scans.test.ts
		expectClose(`cli ${method}`, scores, fx.float(tensor), method === 'resample' ? TOL : 10 * TOL);
		const sorted = [...table.heads].sort((a: { score: number }, b: { score: number }) => (method === 'path' ? a.score - b.score : b.score - a.score));
		expect(table.heads).toEqual(sorted);
	});

	it('exits 2 with one line and writes nothing on bad input', async () => {
		const noCf = promptFile(manifest.prompts.map(({ prompt, answer }) => ({ prompt, answer })));
		const out = join(noCf.dir, 'out.json');
		const cases: [string[], RegExp][] = [
			[['--method', 'median'], /--method: 'median' is not one of/],
			[['--method', 'mean', '--metric', 'loss'], /--metric: 'loss'/],
			[['--method', 'patch'], /needs a counterfactual for its prompts, and none has a usable one: prompt 1 has no counterfactual/],
			[['--method', 'mean', '--metric', 'logit-diff'], /logit-diff needs a counterfactual answer/],
			[['--method', 'resample', '--perm', '0,1,3,2'], /prompt 0 would take its own activation/],
			[['--method', 'mean', '--task', 'add:2'], /exactly one of --prompts/],
			[['--method', 'mean', '--csv', join(noCf.dir, 'missing', 'x.csv')], /--csv: no folder/]
		];
		for (const [args, message] of cases) {
			const r = await runCli(['scan', '--model', MODEL, '--prompts', noCf.path, '--json', out, ...args]);
			expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
			expect(r.stderr).toMatch(message);
			expect(r.stderr.trim().split('\n')).toHaveLength(1);
			expect(readdirSync(noCf.dir)).toEqual(['prompts.jsonl']);
		}
		const r = await runCli(['scan', '--prompts', noCf.path, '--method', 'mean']);
		expect([r.code, r.stderr.trim()]).toEqual([2, "arithlens: missing --model (see 'arithlens scan --help')"]);
	});
});

describe('arithlens plan', () => {
	it('turns the top heads of a scan into a precise-SFT mask and a LoRA config', async () => {
		const { dir, path } = promptFile(manifest.prompts);
		const json = join(dir, 'heads.json');
		expect((await runCli(['scan', '--model', MODEL, '--prompts', path, '--method', 'zero', '--json', json])).code).toBe(0);
		const table = JSON.parse(readFileSync(json, 'utf8'));
		const top3 = table.heads.slice(0, 3).map(({ layer, head }: { layer: number; head: number }) => ({ layer, head }));
		const spec = JSON.parse(readFileSync(join(ROOT, 'test/fixtures/tiny-gpt2.json'), 'utf8')).spec;

		const mask = await runCli(['plan', '--scan', json, '--top', '3', '--format', 'mask', '--model', MODEL]);
		expect(mask.code, mask.stderr).toBe(0);
		expect(JSON.parse(mask.stdout)).toEqual(headMaskPlan(spec, top3));

		const out = join(dir, 'lora.json');
		const peft = await runCli(['plan', '--scan', json, '--top-percent', '30', '--format', 'peft', '--out', out, '--model', MODEL]);
		expect(peft.code, peft.stderr).toBe(0);
		expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual(loraPlan(spec, top3)); // ceil(30% of 8) = 3

		for (const [args, message] of [
			[['--top', '3', '--format', 'lora'], /--format: 'lora'/],
			[['--format', 'mask'], /exactly one of --top/],
			[['--top', '2', '--top-percent', '5', '--format', 'mask'], /exactly one of --top/]
		] as [string[], RegExp][]) {
			const r = await runCli(['plan', '--scan', json, ...args, '--out', join(dir, 'bad.json')]);
			expect(r.code).toBe(2);
			expect(r.stderr).toMatch(message);
		}
		const r = await runCli(['plan', '--scan', path, '--top', '1', '--format', 'mask']);
		expect([r.code, r.stderr]).toEqual([2, expect.stringMatching(/is not JSON|no "heads" list/)]);
		expect(readdirSync(dir).sort()).toEqual(['heads.json', 'lora.json', 'prompts.jsonl']);
	});
});
