// TaskState prepares prompt files, and sets drawn with the model's tokenizer, through a preparer
// (the prompt worker in the page) with a time budget and cancellation, and refuses a set whose kept
// activations exceed the memory limit with the CLI's words.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { promptSetOverBudget } from '../../src/lib/core/experiments/cost';
import { sha256Hex } from '../../src/lib/core/export/provenance';
import { specFromConfig } from '../../src/lib/core/model/config';
import { estimateBytes } from '../../src/lib/core/model/memory';
import { createTokenizer } from '../../src/lib/core/model/tokenizer';
import { generatePrompts, parseTaskSpec } from '../../src/lib/core/tasks/index';
import { TaskState, type TaskModel } from '../../src/lib/state/task.svelte';
import type { PromptPreparer } from '../../src/lib/workers/promptsClient';

const read = (f: string) => JSON.parse(readFileSync(`test/fixtures/models/tiny-gpt2/${f}`, 'utf8'));
const config = read('config.json');
const tiny: TaskModel = { spec: specFromConfig(config), tokenizer: { json: read('tokenizer.json'), config: read('tokenizer_config.json'), modelConfig: config } };
const tokenizer = createTokenizer(tiny.tokenizer.json, tiny.tokenizer.config, config);

const jsonl = (rows: { prompt: string; answer: string }[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';

/** A preparer that never finishes on its own: it settles only when cancelled, and records each job. */
function hanging(): PromptPreparer & { signals: AbortSignal[] } {
	const signals: AbortSignal[] = [];
	return {
		signals,
		prepare: (_job, _tokenizer, { signal }) => {
			signals.push(signal);
			return new Promise((_, reject) => signal.addEventListener('abort', () => reject(Object.assign(new Error('cancelled'), { name: 'AbortError' }))));
		}
	};
}

/** Times a hanging preparer out after timeoutMs, as the prompt worker does. */
function timingOut(): PromptPreparer {
	return { prepare: (_job, _tokenizer, { timeoutMs }) => new Promise((_, reject) => setTimeout(() => reject(Object.assign(new Error('late'), { name: 'TimeoutError' })), timeoutMs)) };
}

describe('TaskState preparation', () => {
	it('parses and hashes a prompt file through the preparer, and measures it under the model tokenizer', async () => {
		const text = jsonl([{ prompt: '12+34=', answer: '46' }, { prompt: '1+2=', answer: '3' }]);
		const state = new TaskState(() => tokenizer, { model: () => tiny });
		const loading = state.loadFile(new File([text], 'two.jsonl'));
		expect(state.preparing).toBe(true);
		expect(state.prompts).toEqual([]);
		await loading;
		expect(state.preparing).toBe(false);
		expect(state.prompts).toEqual([{ prompt: '12+34=', answer: '46' }, { prompt: '1+2=', answer: '3' }]);
		expect(state.file?.sha256).toBe(await sha256Hex(new TextEncoder().encode(text)));
		expect([state.error, state.fileError, state.description]).toEqual(['', '', 'two.jsonl (2 prompts)']);
	});

	it('refuses a set whose kept activations exceed the limit, in the CLI words, before any measurement', async () => {
		// tiny-gpt2 keeps 4·T·L·(H·dh + M + D) + 1024 = 512·T + 1024 bytes a prompt; 3000 prompts, one
		// of 10,000 tokens with <bos> and its answer, keep 3000 · 5,121,024 B = 14.3 GiB, above the 2 GiB limit
		const rows = Array.from({ length: 3000 }, (_, i) => ({ prompt: i === 7 ? '1+'.repeat(4998) + '1=' : `${i % 10}+1=`, answer: '9' }));
		const state = new TaskState(() => tokenizer, { model: () => tiny });
		await state.loadFile(new File([jsonl(rows)], 'long.jsonl'));
		const modelBytes = estimateBytes(tiny.spec, 4);
		expect(state.error).toBe(`3000 prompts of up to 10000 tokens would keep about 14.3 GiB of activations during the scan (plus ${Number((modelBytes / 1024 ** 3).toPrecision(3))} GiB for the model), above the limit of 2 GiB; use a smaller n, or fewer or shorter prompts`);
		expect(state.error.startsWith(promptSetOverBudget(tiny.spec, modelBytes, 3000, 10000, 2 * 1024 ** 3, 'scan')!)).toBe(true);
		expect(state.prompts).toEqual([]);
		expect(state.file?.records.length).toBe(3000);
		// without the long prompt the set fits and is used
		await state.loadFile(new File([jsonl(rows.filter((_, i) => i !== 7))], 'short.jsonl'));
		expect([state.error, state.prompts.length]).toEqual(['', 2999]);
	});

	it('draws a tokenizer-aware set through the preparer; a spec change cancels the running one', async () => {
		const preparer = hanging();
		const state = new TaskState(() => tokenizer, { model: () => tiny, preparer });
		state.spec = 'add:2';
		expect([state.prompts, state.preparing]).toEqual([[], true]);
		state.n = 10;
		expect(state.preparing).toBe(true);
		expect(preparer.signals.map((s) => s.aborted)).toEqual([true, false]);
		state.clearFile(); // nothing to clear: the running set stays
		state.file = null; // what the dashboard does on a model's own task: cancels and redraws
		expect(state.preparing).toBe(true);
		expect(preparer.signals.map((s) => s.aborted)).toEqual([true, true, false]);
		state.dispose();
		expect(preparer.signals.at(-1)!.aborted).toBe(true);
	});

	it('shows a time-budget error instead of waiting, for a drawn set and for a file', async () => {
		const state = new TaskState(() => tokenizer, { model: () => tiny, preparer: timingOut(), timeBudgetMs: 50 });
		state.spec = 'add:2';
		void state.prompts;
		await state.settled();
		expect([state.error, state.prompts]).toEqual(['tokenizing the prompt set took longer than 0.05 s', []]);
		await state.loadFile(new File([jsonl([{ prompt: '1+2=', answer: '3' }])], 'p.jsonl'));
		expect(state.fileError).toBe('p.jsonl: tokenizing the prompt set took longer than 0.05 s');
		// the file is dropped: the builder's set is the one in use again
		expect([state.file, state.task?.op]).toEqual([null, 'add']);
	});

	it('draws a set here, at once, while no tokenizer is loaded', () => {
		const state = new TaskState(() => null, { model: () => null, preparer: hanging() });
		state.spec = 'add:2';
		expect(state.preparing).toBe(false);
		expect(state.prompts).toEqual(generatePrompts(parseTaskSpec('add:2'), { n: state.n, seed: state.seed }));
	});
});
