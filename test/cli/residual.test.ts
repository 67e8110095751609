// `arithlens attribute` and `arithlens edges` through the real CLI: the files hold what the core
// computes (DESIGN §11's JSON, the CSV, the SVG graph), with provenance; bad input exits 2 with one
// line and writes nothing.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { folderSource } from '../../src/cli/node-source';
import { attributeSet } from '../../src/lib/core/experiments/attribution';
import { edgeScan } from '../../src/lib/core/experiments/edges';
import { encodePromptSet } from '../../src/lib/core/experiments/prompts';
import { ScanContext } from '../../src/lib/core/experiments/scan';
import { loadModel } from '../../src/lib/core/model/index';
import { createNodeEngine } from '../../src/lib/core/runtime/node';
import { parsePromptFile } from '../../src/lib/core/tasks/promptFile';
import { tempDir } from '../tempDir';
import { runCli } from './run-cli';

const PROMPTS = 'models/add-3d/heldout.jsonl';

async function core(n: number) {
	const model = await loadModel(folderSource('models/add-3d'));
	const records = parsePromptFile(readFileSync(PROMPTS, 'utf8')).slice(0, n);
	const set = encodePromptSet(model.tokenizer, records, model.spec.n_ctx);
	const engine = await createNodeEngine(model);
	try {
		return { attribution: await attributeSet(engine, set), edges: await edgeScan(new ScanContext(engine, set)) };
	} finally {
		await engine.dispose();
	}
}

describe('arithlens attribute and edges', () => {
	it('write the values the core computes, with provenance', async () => {
		const dir = tempDir('arithlens-cli-');
		const [json, csv, ejson, ecsv, svg] = ['dla.json', 'dla.csv', 'edges.json', 'edges.csv', 'circuit.svg'].map((f) => join(dir, f));
		const a = await runCli(['attribute', '--model', 'models/add-3d', '--prompts', PROMPTS, '--n', '24', '--json', json, '--csv', csv]);
		expect(a.code, a.stderr).toBe(0);
		expect(a.stdout).toMatch(/^position 0 \("\d", 24 prompts\): logit [\d.]+; top: MLP2 /);
		const e = await runCli(['edges', '--model', 'models/add-3d', '--prompts', PROMPTS, '--n', '24', '--json', ejson, '--csv', ecsv, '--svg', svg, '--threshold', '0.1']);
		expect(e.code, e.stderr).toBe(0);
		const want = await core(24);

		const got = JSON.parse(readFileSync(json, 'utf8'));
		expect(got.provenance).toMatchObject({ method: 'direct_logit_attribution', metric: 'answer_logit', n_prompts: 24, prompt_file: 'heldout.jsonl' });
		expect(got.components).toEqual(want.attribution.names);
		expect(got.positions).toHaveLength(want.attribution.positions.length);
		got.positions.forEach((p: { token: string; components: { logit: number; logit_diff: number | null }[]; lens: { rank: number }[] }, i: number) => {
			const w = want.attribution.positions[i];
			expect(p.token).toMatch(/^(\d|<eos>)$/);
			p.components.forEach((c, j) => {
				expect(c.logit).toBeCloseTo(w.components[j].logit, 6);
				expect(c.logit_diff).toBe(w.components[j].logit_diff === null ? null : c.logit_diff);
			});
			expect(p.lens.map((l) => l.rank)).toEqual(w.lens.map((l) => l.rank));
		});
		const rows = readFileSync(csv, 'utf8').trim().split('\n');
		expect(rows[0]).toBe('position,token,component,logit,logit_diff');
		expect(rows).toHaveLength(1 + want.attribution.positions.length * want.attribution.names.length);

		const edges = JSON.parse(readFileSync(ejson, 'utf8'));
		expect(edges.provenance).toMatchObject({ method: 'path_edges', metric: 'answer_logit_rel', n_prompts: 24 });
		expect(edges.edges).toHaveLength(want.edges.edges.length);
		edges.edges.forEach((x: { score: number }, i: number) => expect(x.score).toBeCloseTo(want.edges.edges[i].score, 6));
		expect(readFileSync(ecsv, 'utf8').trim().split('\n')).toHaveLength(1 + want.edges.edges.length);
		const strong = want.edges.edges.filter((x) => Math.abs(x.score) >= 0.1).length;
		const picture = readFileSync(svg, 'utf8');
		expect(picture.startsWith('<svg')).toBe(true);
		expect(picture.match(/<path /g)).toHaveLength(strong);
		expect(e.stdout).toContain(`${strong} above 0.1`);
	});

	it('--heads restricts senders and receivers', async () => {
		const r = await runCli(['edges', '--model', 'models/add-3d', '--task', 'add-3d', '--n', '6', '--heads', 'L0H3,L1H2', '--no-mlps']);
		expect(r.code, r.stderr).toBe(0);
		const got = JSON.parse(r.stdout);
		expect(got.edges.map((e: { sender: string; receiver: string }) => `${e.sender}>${e.receiver}`)).toEqual(['L0H3>L1H2', 'L0H3>logits', 'L1H2>logits']);
	});

	it.each([
		[['edges', '--heads', 'L9H0'], /--heads: L9H0 is not a head of this model/],
		[['edges', '--heads', 'L0H1,L0H1'], /named twice/],
		[['edges', '--heads', 'head1'], /is not a head such as L0H1/],
		[['edges', '--threshold=-1'], /--threshold: '-1' is not a decimal number >= 0/],
		[['attribute', '--json', '/nonexistent-dir/x.json'], /--json: no folder/]
	])('%j: exit 2, one line', async (args, message) => {
		const r = await runCli([...args, '--model', 'models/add-3d', '--task', 'add-3d', '--n', '4']);
		expect(r.code).toBe(2);
		expect(r.stderr.trim().split('\n')).toHaveLength(1);
		expect(r.stderr).toMatch(message);
	});

	it('edges on prompts without counterfactuals: exit 2, nothing written', async () => {
		const dir = tempDir('arithlens-cli-');
		const file = join(dir, 'plain.jsonl');
		writeFileSync(file, '{"prompt":"123+456=","answer":"579"}\n{"prompt":"111+222=","answer":"333"}\n');
		const out = join(dir, 'edges.json');
		const r = await runCli(['edges', '--model', 'models/add-3d', '--prompts', file, '--json', out]);
		expect(r.code).toBe(2);
		expect(r.stderr.trim().split('\n')).toHaveLength(1);
		expect(r.stderr).toMatch(/needs a counterfactual/);
		expect(existsSync(out)).toBe(false);
	});
});
