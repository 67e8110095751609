// Prepares the page's prompt set (prompts.ts) so that a large prompt file or a slow tokenizer never
// blocks the page. The work is synchronous once started: the page cancels it by terminating this
// worker, never by a message.
import { createTokenizer, type ArithTokenizer } from '$lib/core/model';
import { preparePrompts, type PromptRequest, type PromptResponse } from './prompts';

let tokenizer: ArithTokenizer | null = null;
const post = (msg: PromptResponse) => (self as unknown as Worker).postMessage(msg);

self.addEventListener('message', async (e: MessageEvent<PromptRequest>) => {
	const { id, job, tokenizer: input } = e.data;
	try {
		if (input !== 'cached') tokenizer = input ? createTokenizer(input.json, input.config, input.modelConfig) : null;
		post({ id, type: 'result', result: await preparePrompts(job, tokenizer) });
	} catch (err) {
		const { name = 'Error', message = String(err) } = (err ?? {}) as Error;
		post({ id, type: 'error', error: { name, message } });
	}
});
