// The model's own tokenizer, built from tokenizer.json + tokenizer_config.json with the Tokenizer
// class transformers.js uses (@huggingface/tokenizers), in memory: no hub, no filesystem. Special
// tokens come from tokenizer.json's post-processor (DESIGN §5), exactly as Python's
// PreTrainedTokenizerFast adds them. Characters the vocabulary lacks are an error, not a silent <unk>.
import { Tokenizer } from '@huggingface/tokenizers';
import { ModelLoadError, TokenizeError, blameFile } from './errors';

export interface ArithTokenizer {
	/** Token ids of `text`; with addSpecialTokens (default) the post-processor's specials (e.g. BOS) are added. */
	encode(text: string, opts?: { addSpecialTokens?: boolean }): number[];
	decode(ids: number[], opts?: { skipSpecialTokens?: boolean }): string;
	/** The vocabulary string of each id (for labelling positions in views). */
	tokenStrings(ids: number[]): string[];
	bosId: number | null;
	eosId: number | null;
	padId: number | null;
	unkId: number | null;
	/** 1 + the largest id the tokenizer can produce. */
	vocabSize: number;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** tokenizer_config.json writes special tokens as a string or as an AddedToken dict {content: ...}. */
const tokenText = (v: unknown): string | null =>
	typeof v === 'string' ? v : isObject(v) && typeof v.content === 'string' ? v.content : null;

/**
 * @param tokenizerJson   parsed tokenizer.json
 * @param tokenizerConfig parsed tokenizer_config.json ({} when the folder has none)
 * @param modelConfig     parsed config.json, for bos/eos/pad ids the tokenizer config leaves out
 */
export function createTokenizer(tokenizerJson: unknown, tokenizerConfig: unknown, modelConfig: Json = {}): ArithTokenizer {
	if (!isObject(tokenizerJson) || !isObject(tokenizerJson.model))
		throw new ModelLoadError('tokenizer.json', "not a tokenizer: expected a JSON object with a 'model' entry");
	if (!isObject(tokenizerConfig)) throw new ModelLoadError('tokenizer_config.json', 'not a JSON object');
	const tk = blameFile('tokenizer.json', () => new Tokenizer(tokenizerJson, tokenizerConfig));
	const vocab = blameFile('tokenizer.json', () => tk.get_vocab(true));
	let vocabSize = 0;
	for (const id of vocab.values()) vocabSize = Math.max(vocabSize, id + 1);
	const idOf = (key: string): number | null => {
		const text = tokenText(tokenizerConfig[key]);
		const id = text === null ? undefined : vocab.get(text);
		if (id !== undefined) return id;
		const fromModel = modelConfig[`${key}_id`];
		return Number.isSafeInteger(fromModel) ? (fromModel as number) : null;
	};
	const modelUnk = tokenText((tokenizerJson.model as Json).unk_token);
	const unkId = modelUnk !== null ? (vocab.get(modelUnk) ?? null) : idOf('unk_token');
	const unkText = unkId === null ? null : (tk.id_to_token(unkId) ?? null);

	const addedTokens = (Array.isArray(tokenizerJson.added_tokens) ? (tokenizerJson.added_tokens as Json[]) : [])
		.map((t) => (isObject(t) ? t.content : undefined))
		.filter((c): c is string => typeof c === 'string' && c.length > 0)
		.sort((a, b) => b.length - a.length); // longest first, as the tokenizer matches them

	// Per character: does it encode on its own, and not to <unk>? Cached: prompts reuse few characters.
	const charProblem = new Map<string, string | null>();
	const problemOf = (ch: string): string | null => {
		let p = charProblem.get(ch);
		if (p === undefined) {
			const ids = rawEncode(tk, ch, false, ch);
			p = unkId !== null && ids.includes(unkId) ? `is not in the tokenizer's vocabulary (it becomes ${unkText})`
				: !ids.every(Number.isInteger) ? 'is not in the tokenizer\'s vocabulary, which has no unk token'
				: ids.length === 0 && !/\s/.test(ch) ? 'cannot be encoded (the tokenizer drops it)' : null;
			charProblem.set(ch, p);
		}
		return p;
	};

	return {
		encode(text, { addSpecialTokens = true } = {}) {
			let pos = 0;
			let skipUntil = 0;
			for (const ch of text) {
				// Added tokens written in the text (e.g. "<eos>" in an answer) are matched whole by the
				// tokenizer before pre-tokenization, so their characters are not checked one by one.
				if (pos >= skipUntil) {
					const added = addedTokens.find((t) => text.startsWith(t, pos));
					if (added) skipUntil = pos + added.length;
				}
				const problem = pos < skipUntil ? null : problemOf(ch);
				if (problem) {
					const code = 'U+' + ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
					throw new TokenizeError(text, `character ${JSON.stringify(ch)} (${code}) at position ${pos} of ${JSON.stringify(text)} ${problem}`, ch, pos);
				}
				pos += ch.length;
			}
			const ids = rawEncode(tk, text, addSpecialTokens, text);
			// Characters passed one by one; in context a word-level vocabulary can still miss.
			const bad = ids.findIndex((id) => !Number.isInteger(id) || (id === unkId && !(unkText && text.includes(unkText))));
			if (bad >= 0) throw new TokenizeError(text, `${JSON.stringify(text)} has no id for token ${bad} (${JSON.stringify(tk.encode(text).tokens[bad])})`);
			return ids;
		},
		decode: (ids, { skipSpecialTokens = false } = {}) => tk.decode(ids, { skip_special_tokens: skipSpecialTokens }),
		tokenStrings: (ids) => ids.map((id) => tk.id_to_token(id) ?? `[${id}]`),
		bosId: idOf('bos_token'),
		eosId: idOf('eos_token'),
		padId: idOf('pad_token'),
		unkId,
		vocabSize
	};
}

function rawEncode(tk: Tokenizer, text: string, addSpecialTokens: boolean, prompt: string): number[] {
	try {
		return tk.encode(text, { add_special_tokens: addSpecialTokens }).ids;
	} catch (e) {
		throw new TokenizeError(prompt, `cannot tokenize ${JSON.stringify(prompt)}: ${(e as Error).message}`);
	}
}
