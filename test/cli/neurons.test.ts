// `arithlens neurons` input handling and per-neuron importance through the real CLI: a prompt set that
// is not a full modular grid, missing meta, a layer out of range and bad flags exit 2 with one line
// and write nothing; --importance on any model writes the core's ablation scores.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { folderSource } from '../../src/cli/node-source';
import { neuronImportance } from '../../src/lib/core/experiments/neurons';
import { encodePromptSet } from '../../src/lib/core/experiments/prompts';
import { ScanContext } from '../../src/lib/core/experiments/scan';
import { loadModel } from '../../src/lib/core/model/index';
import { createNodeEngine } from '../../src/lib/core/runtime/node';
import { generatePrompts, parseTaskSpec } from '../../src/lib/core/tasks';
import { tempDir } from '../tempDir';
import { runCli } from './run-cli';

describe('arithlens neurons', () => {
	it('--importance on add-3d writes the core ablation score of every neuron of the layer', async () => {
		const out = join(tempDir('arithlens-cli-'), 'neurons.json');
		const r = await runCli(['neurons', '--model', 'models/add-3d', '--task', 'add-3d', '--n', '6', '--layer', '2', '--importance', '--ablation', 'mean', '--json', out]);
		expect(r.code, r.stderr).toBe(0);
		expect(r.stdout).toMatch(/most important neurons \(logprob drop\): L2N\d+/);
		const got = JSON.parse(readFileSync(out, 'utf8'));
		expect(got.provenance.method).toBe('neuron_mean_ablation');
		const model = await loadModel(folderSource('models/add-3d'));
		const engine = await createNodeEngine(model);
		const records = generatePrompts(parseTaskSpec('add-3d'), { n: 6, seed: 0, tokenizer: model.tokenizer });
		const want = await neuronImportance(new ScanContext(engine, encodePromptSet(model.tokenizer, records, model.spec.n_ctx)), { layers: [2], method: 'mean' });
		await engine.dispose();
		expect(got.neurons).toHaveLength(model.spec.d_mlp);
		got.neurons.forEach((n: { layer: number; neuron: number; logprob_drop: number }, i: number) => {
			expect([n.layer, n.neuron]).toEqual([2, i]);
			expect(n.logprob_drop).toBeCloseTo(want[i].logprob_drop, 6);
		});
	});

	it.each([
		[['--task', 'add-3d', '--n', '8'], /not a modular prompt set: record 1 \(".*"\) comes from a digit task \(meta.op 'add', no meta.p\).*--importance scores the neurons of any model/],
		[['--task', 'add:p13', '--layer', '3'], /--layer: 3 is not a block of this model \(0 to 2\)/],
		[['--task', 'add:p13', '--r=-1'], /--r: '-1' is not a decimal number > 0/],
		[['--task', 'add:p13', '--ablation', 'resample'], /--ablation: 'resample' is not one of zero, mean/],
		[['--task', 'add:p13', '--json', '/nonexistent-dir/n.json'], /--json: no folder/]
	])('%j: exit 2, one line', async (args, message) => {
		const r = await runCli(['neurons', '--model', 'models/add-3d', ...args]);
		expect(r.code, r.stdout).toBe(2);
		expect(r.stderr.trim().split('\n')).toHaveLength(1);
		expect(r.stderr).toMatch(message);
	});

	it('a file that is not the full grid, lacks meta.a / meta.b, or repeats a pair is refused naming the record; nothing is written', async () => {
		const dir = tempDir('arithlens-cli-');
		const out = join(dir, 'n.json');
		const rows = Array.from({ length: 4 }, (_, i) => ({ prompt: `${i >> 1}+${i & 1}=`, answer: `${(i >> 1) + (i & 1)}`, meta: { a: i >> 1, b: i & 1 } }));
		const noMeta = join(dir, 'nometa.jsonl');
		writeFileSync(noMeta, rows.map((r, i) => JSON.stringify(i === 2 ? { prompt: r.prompt, answer: r.answer } : r)).join('\n') + '\n');
		const twice = join(dir, 'twice.jsonl');
		writeFileSync(twice, rows.map((r, i) => JSON.stringify(i === 3 ? { ...r, meta: { a: 0, b: 0 } } : r)).join('\n') + '\n');
		const partial = join(dir, 'partial.jsonl');
		writeFileSync(partial, rows.slice(0, 3).map((r) => JSON.stringify(r)).join('\n') + '\n');
		for (const [file, message] of [[partial, /not a full modular prompt set: 3 records, but p = 2 \(the largest operand \+ 1\) has p² = 4 pairs/], [noMeta, /record 3 \("1\+0="\) has no integer meta.a and meta.b/], [twice, /records 1 and 4 are both the pair \(0, 0\)/]] as const) {
			const r = await runCli(['neurons', '--model', 'models/add-3d', '--prompts', file, '--json', out]);
			expect(r.code).toBe(2);
			expect(r.stderr.trim().split('\n')).toHaveLength(1);
			expect(r.stderr).toMatch(message);
			expect(existsSync(out)).toBe(false);
		}
	});
});
