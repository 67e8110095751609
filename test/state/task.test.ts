// TaskState draws its prompts with the loaded model's tokenizer (as the CLI does for --task), and
// labels answer positions by token text once a token holds more than one character.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createTokenizer, type ArithTokenizer } from '../../src/lib/core/model/tokenizer';
import { encodePromptSet } from '../../src/lib/core/experiments/prompts';
import { answerTokenTexts, tokenizeScored } from '../../src/lib/core/model/scoredTokens';
import { generatePrompts, parseTaskSpec } from '../../src/lib/core/tasks/index';
import { answerPositionLabels } from '../../src/lib/state/labels';
import { TaskState } from '../../src/lib/state/task.svelte';
import { realTokenizer } from '../real/tokenizers';

const t = realTokenizer('gpt2');
const gpt2 = createTokenizer(t.tokenizerJson, t.tokenizerConfig);

describe('TaskState', () => {
	it('draws the prompts with the model tokenizer once one is loaded', async () => {
		let tokenizer: ArithTokenizer | null = null;
		const state = new TaskState(() => tokenizer);
		state.spec = 'add:3:verbal';
		state.n = 40;
		const before = state.prompts;
		expect(before).toEqual(generatePrompts(parseTaskSpec('add:3:verbal'), { n: 40, seed: state.seed }));
		tokenizer = gpt2;
		// in the page the tokenizer is ModelState's $state; this plain variable is not, so touch the seed
		// to make the derived set recompute
		state.seed = state.seed + 1;
		state.seed = state.seed - 1;
		await state.settled(); // a set drawn with a tokenizer is prepared off the calling thread
		const after = state.prompts;
		expect(after).toEqual(generatePrompts(parseTaskSpec('add:3:verbal'), { n: 40, seed: state.seed, tokenizer: gpt2 }));
		// every counterfactual the tokenizer-aware set has lines up under GPT-2
		expect(encodePromptSet(gpt2, after).counterfactualIssues).toEqual([]);
	});

	it('labels answer positions by token text for GPT-2, by digit for a character-level task', async () => {
		const state = new TaskState(() => gpt2);
		state.spec = 'add:3:verbal';
		await state.settled();
		const first = state.prompts[0];
		const texts = answerTokenTexts(gpt2, tokenizeScored(gpt2, first.prompt, first.answer));
		expect(texts.join('')).toBe(first.answer);
		expect(state.positionLabels(texts.length + 1)).toEqual([...texts.map((x, i) => `token ${i + 1} = ${JSON.stringify(x)}`), `${texts.length + 1}${['st', 'nd', 'rd'][texts.length] ?? 'th'} token`]);
		const chars = new TaskState(() => null);
		chars.spec = 'add:3';
		expect(chars.positionLabels(2)).toEqual(['1st digit', '2nd digit']);
		// a character-level model's own tokenizer keeps character labels, <eos> included
		const read = (f: string) => JSON.parse(readFileSync(`models/add-3d/${f}`, 'utf8'));
		const own = createTokenizer(read('tokenizer.json'), read('tokenizer_config.json'), read('config.json'));
		const add3d = new TaskState(() => own);
		add3d.spec = 'add:3:eos';
		await add3d.settled();
		const P = add3d.prompts[0].answer.length - '<eos>'.length + 1;
		expect(add3d.positionLabels(P)).toEqual(answerPositionLabels(parseTaskSpec('add:3:eos'), P));
	});
});
