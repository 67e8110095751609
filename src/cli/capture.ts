// Run with a cache on one prompt (TransformerLens' run_with_cache): the logits and the requested hook
// tensors with the batch dimension dropped, plus the prompt's token ids and strings. `arithlens
// capture` parses its flags and writes what captureText returns; this file does the work.
import { matchHooks, type HookName } from '../lib/core/model/hooks';
import type { ArithTokenizer } from '../lib/core/model/index';
import type { Spec } from '../lib/core/model/spec';
import type { Tensor } from '../lib/core/model/tensor';
import type { Engine } from '../lib/core/runtime/engine';
import { InputError } from './errors';

export interface Capture {
	/** Prompt ids with the tokenizer's special tokens (DESIGN §5). */
	tokens: number[];
	tokenStrings: string[];
	/** 'logits' [T,V] first, then each requested hook in forward order, batch dimension dropped. */
	tensors: Map<string, Tensor>;
}

/** Hook names from comma-separated names or globs ('blocks.*.attn.hook_pattern'); undefined or '' = none. */
export function selectHooks(spec: Spec, patterns: string | undefined): HookName[] {
	if (patterns === undefined || patterns.trim() === '') return [];
	try {
		return matchHooks(spec, patterns);
	} catch (e) {
		throw new InputError(`--hooks: ${(e as Error).message.replace(/^hooks: /, '')}`);
	}
}

/** Token ids of `text`, refusing what the engine would refuse (empty prompt, longer than the context). */
export function encodePrompt(model: { spec: Spec; tokenizer: ArithTokenizer }, text: string): number[] {
	if (text === '') throw new InputError('--text: empty prompt');
	const ids = model.tokenizer.encode(text); // a TokenizeError names the character it cannot encode
	if (ids.length === 0) throw new InputError(`--text: ${JSON.stringify(text)} encodes to no tokens`);
	if (model.spec.pos !== 'none' && ids.length > model.spec.n_ctx)
		throw new InputError(`--text: ${ids.length} tokens, above the model's context of ${model.spec.n_ctx}`);
	return ids;
}

const dropBatch = (t: Tensor): Tensor => ({ data: t.data, shape: t.shape.slice(1) });

export async function captureText(engine: Engine, tokenizer: ArithTokenizer, tokens: number[], hooks: readonly HookName[]): Promise<Capture> {
	const { logits, cache } = await engine.run([tokens], { hooks: hooks.filter((h) => h !== 'logits') });
	const tensors = new Map<string, Tensor>([['logits', dropBatch(logits)]]);
	for (const h of hooks) if (h !== 'logits') tensors.set(h, dropBatch(cache.get(h)!));
	return { tokens, tokenStrings: tokenizer.tokenStrings(tokens), tensors };
}
