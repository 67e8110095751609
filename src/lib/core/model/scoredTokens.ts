// One tokenization of a scored example (DESIGN §5): the model reads tokenizer(prompt + answer), so
// the answer ids are the tail of that sequence after tokenizer(prompt), never tokenizer(answer) alone
// (a SentencePiece vocabulary encodes "46" alone as `▁ 4 6` but "12+34=46" ends in `4 6`; GPT-2 merges
// " 46" into one token). Every path that scores or shows answer tokens goes through tokenizeScored.
import { TokenizeError } from './errors';
import type { ArithTokenizer } from './tokenizer';

export interface ScoredTokens {
	/** tokenizer(prompt) with the tokenizer's special tokens. */
	prompt: number[];
	/** The rest of tokenizer(prompt + answer): the tokens the model is scored on. */
	answer: number[];
}

type Encoder = Pick<ArithTokenizer, 'encode' | 'tokenStrings'>;

const shown = (tokenizer: Encoder, ids: readonly number[]) => JSON.stringify(tokenizer.tokenStrings([...ids]));

/**
 * Splits tokenizer(prompt + answer) into prompt and answer ids. Throws a TokenizeError naming the prompt
 * and both tokenizations when tokenizer(prompt) is not a prefix of it (the answer would change how the
 * prompt itself is tokenized, so no position predicts the answer alone), or when nothing is left for
 * the answer.
 */
export function tokenizeScored(tokenizer: Encoder, prompt: string, answer: string): ScoredTokens {
	const promptIds = tokenizer.encode(prompt);
	const sequence = tokenizer.encode(prompt + answer);
	const n = promptIds.length;
	let same = sequence.length >= n;
	for (let i = 0; same && i < n; i++) same = sequence[i] === promptIds[i];
	if (!same) {
		throw new TokenizeError(
			prompt,
			`prompt ${JSON.stringify(prompt)} with answer ${JSON.stringify(answer)}: the prompt's tokens ${shown(tokenizer, promptIds)} ` +
				`are not a prefix of the joint tokens ${shown(tokenizer, sequence)}, so no position predicts the answer alone ` +
				'(end the prompt where the tokenizer splits, e.g. without a trailing space)'
		);
	}
	const answerIds = sequence.slice(n);
	if (answerIds.length === 0)
		throw new TokenizeError(prompt, `prompt ${JSON.stringify(prompt)}: the answer ${JSON.stringify(answer)} adds no tokens after the prompt`);
	return { prompt: promptIds, answer: answerIds };
}

/**
 * The token that holds each character of `text`, given `ids` = tokenizer(text): token k covers the
 * characters decode(ids[0..k+1]) adds to decode(ids[0..k]). Specials decode to nothing here (skipped),
 * so they own no character. Returns null when the decoded prefixes do not spell `text` (a normalizer
 * that rewrites the text), so callers can say so instead of guessing.
 */
export function characterTokens(tokenizer: Pick<ArithTokenizer, 'decode'>, ids: readonly number[], text: string): number[] | null {
	const owner = new Array<number>(text.length).fill(-1);
	let done = 0;
	for (let k = 0; k < ids.length; k++) {
		const decoded = tokenizer.decode(ids.slice(0, k + 1) as number[], { skipSpecialTokens: true });
		// A decoder may drop the leading space SentencePiece adds; compare against the text's own prefix.
		if (!text.startsWith(decoded)) return null;
		for (let c = done; c < decoded.length; c++) owner[c] = k;
		done = Math.max(done, decoded.length);
	}
	if (done !== text.length) return null;
	// Characters a decoder strips (a leading space) belong to the next token that writes text.
	for (let c = text.length - 2; c >= 0; c--) if (owner[c] < 0) owner[c] = owner[c + 1];
	return owner;
}

/**
 * The text each answer token writes in context: decode(prompt + answer[0..i+1]) minus
 * decode(prompt + answer[0..i]), so a SentencePiece `▁` shows as the space it is and GPT-2's ` 46` keeps
 * its space (a token decoded alone can lose it).
 */
export function answerTokenTexts(tokenizer: Pick<ArithTokenizer, 'decode'>, tokens: ScoredTokens): string[] {
	const ids = [...tokens.prompt];
	// specials kept: an answer's own `<eos>` is text the model writes
	let before = tokenizer.decode(ids);
	return tokens.answer.map((id) => {
		ids.push(id);
		const after = tokenizer.decode(ids);
		const text = after.startsWith(before) ? after.slice(before.length) : tokenizer.decode([id]);
		before = after;
		return text;
	});
}
