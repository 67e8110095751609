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
	checkRegexes(tokenizerJson);
	checkUniqueIds(tokenizerJson);
	const tk = blameFile('tokenizer.json', () => new Tokenizer(tokenizerJson, tokenizerConfig));
	const vocab = blameFile('tokenizer.json', () => tk.get_vocab(true));
	let vocabSize = 0;
	for (const id of vocab.values()) vocabSize = Math.max(vocabSize, id + 1);
	// Ids past the model's embedding rows would index outside W_E; config.json's vocab_size (Hugging Face)
	// or d_vocab (TransformerLens) bounds them, else the tokenizer's own vocabulary does.
	const modelVocab = [modelConfig.vocab_size, modelConfig.d_vocab].find((v): v is number => Number.isSafeInteger(v) && (v as number) > 0);
	const idLimit = modelVocab ?? vocabSize;
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
			// A model's tokenizer regex runs on the whole text at once: bound the text so a slow pattern
			// (polynomial backtracking) cannot run unbounded; arithmetic prompts are a few dozen characters.
			if (text.length > MAX_TEXT_LENGTH)
				throw new TokenizeError(text.slice(0, 64), `text of ${text.length} characters, above the tokenizer's limit of ${MAX_TEXT_LENGTH}`);
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
			const outside = ids.findIndex((id) => id < 0 || id >= idLimit);
			if (outside >= 0)
				throw new TokenizeError(text, `${excerpt(text)} encodes token ${outside} to id ${ids[outside]}, outside the model's vocabulary of ${idLimit} ids (check tokenizer.json's post_processor and added_tokens)`);
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

/** Longest text encoded at once (UTF-16 code units, 64 Ki). */
export const MAX_TEXT_LENGTH = 65536;

/** A short, escaped quote of file-provided text for error messages. */
const excerpt = (text: string, max = 40): string => JSON.stringify(text.length > max ? text.slice(0, max) + '…' : text);

/**
 * Refuses tokenizer.json regexes (Split pre-tokenizers, Replace normalizers and decoders) that nest
 * repeating quantifiers, like `(a+)+$`: these backtrack exponentially in the length of a run (26
 * characters took 4 s), so no bound on the text's length makes them safe. Overlapping alternations
 * (`(a|a)+`) also backtrack and are not detected; the length bound in encode limits the polynomial cases.
 */
function checkRegexes(json: Json): void {
	const visit = (v: unknown, path: string): void => {
		if (Array.isArray(v)) v.forEach((x, i) => visit(x, `${path}[${i}]`));
		else if (isObject(v))
			for (const [k, x] of Object.entries(v)) {
				if (path === '' && k === 'model') continue; // vocab and merges: large, and no regexes
				if (k === 'Regex' && typeof x === 'string') {
					const nested = nestedQuantifier(x);
					if (nested !== null)
						throw new ModelLoadError('tokenizer.json', `${path}.Regex repeats ${excerpt(nested)}, a group that itself repeats: it backtracks exponentially on long inputs, so it is refused`);
				} else visit(x, path ? `${path}.${k}` : k);
			}
	};
	visit(json, '');
}

/**
 * Refuses two tokens on one id in tokenizer.json's vocab and added_tokens. The tokenizer library keeps
 * one of them silently (a vocab with '3' and 'x' both on id 7 encoded "3" as 7 and lost '3'), so the
 * check reads the file, not the built tokenizer.
 */
function checkUniqueIds(json: Json): void {
	const tokenOfId = new Map<number, string>();
	const add = (token: unknown, id: unknown) => {
		if (typeof token !== 'string' || !Number.isSafeInteger(id)) return;
		const other = tokenOfId.get(id as number);
		if (other !== undefined && other !== token)
			throw new ModelLoadError('tokenizer.json', `tokens ${excerpt(other)} and ${excerpt(token)} both have id ${id}`);
		tokenOfId.set(id as number, token);
	};
	const vocab = (json.model as Json).vocab; // WordLevel / BPE / WordPiece: {token: id}; Unigram lists [token, score] by id
	if (isObject(vocab)) for (const token in vocab) add(token, vocab[token]);
	if (Array.isArray(json.added_tokens)) for (const t of json.added_tokens) if (isObject(t)) add(t.content, t.id);
}

/** The first repeated group containing a repeated atom (star height > 1) in `re`, or null. */
export function nestedQuantifier(re: string): string | null {
	// One frame per open group: where it starts and whether something inside it repeats.
	const stack: { start: number; repeats: boolean }[] = [{ start: 0, repeats: false }];
	let atom: { start: number; repeats: boolean } | null = null; // the atom a quantifier would apply to
	let i = 0;
	while (i < re.length) {
		const c = re[i];
		if (c === '\\') {
			let j = i + 2;
			if ('pPux'.includes(re[i + 1] ?? '') && re[j] === '{') j = re.indexOf('}', j) < 0 ? re.length : re.indexOf('}', j) + 1;
			atom = { start: i, repeats: false };
			i = j;
		} else if (c === '[') {
			let j = i + 1;
			if (re[j] === '^') j++;
			if (re[j] === ']') j++; // a leading ']' is literal (Oniguruma / Rust)
			for (let depth = 1; j < re.length && depth > 0; j++) {
				if (re[j] === '\\') j++;
				else if (re[j] === '[') depth++;
				else if (re[j] === ']') depth--;
			}
			atom = { start: i, repeats: false };
			i = j;
		} else if (c === '(') {
			stack.push({ start: i, repeats: false });
			atom = null;
			i += re[i + 1] === '?' ? 2 : 1; // (?: (?= (?<name> ...: what follows the '?' is no quantifier
		} else if (c === ')') {
			const group = stack.length > 1 ? stack.pop()! : { start: 0, repeats: false };
			stack[stack.length - 1].repeats ||= group.repeats;
			atom = group;
			i++;
		} else if (c === '|') {
			atom = null;
			i++;
		} else {
			const brace = c === '{' ? /^\{(\d*)(,(\d*))?\}/.exec(re.slice(i, i + 24)) : null;
			if (c === '*' || c === '+' || c === '?' || (brace && brace[0] !== '{}')) {
				const len = brace ? brace[0].length : 1;
				const repeating = c === '*' || c === '+' || (brace !== null && (brace[2] !== undefined ? brace[3] === '' || Number(brace[3]) > 1 : Number(brace[1]) > 1));
				let end = i + len;
				if (re[end] === '?' || re[end] === '+') end++; // lazy / possessive
				if (repeating && atom?.repeats) return re.slice(atom.start, end);
				if (repeating && atom) stack[stack.length - 1].repeats = true;
				atom = null;
				i = end;
			} else {
				atom = { start: i, repeats: false };
				i++;
			}
		}
	}
	return null;
}
