// Model loading: a FileSource (local folder, URL, Hugging Face hub, dropped files) -> Spec, canonical
// f32 weights, tokenizer and provenance. Families differ only in their small name maps under
// checkpoints/; everything downstream sees one TransformerLens-shaped layout (spec.ts).
import { gpt2Weights } from './checkpoints/gpt2';
import { gptNeoxWeights } from './checkpoints/gpt_neox';
import { llamaWeights } from './checkpoints/llama';
import type { CheckpointReader } from './checkpoints/ops';
import { transformerLensWeights } from './checkpoints/transformer_lens';
import { specFromConfig } from './config';
import { ModelLoadError, parseJson } from './errors';
import { canonicalShapes, type Family, type Spec } from './spec';
import type { Tensor } from './tensor';
import { createTokenizer, type ArithTokenizer } from './tokenizer';
import type { FileSource } from './sources';
import { readCheckpoint } from './weights';

export { ModelLoadError, TokenizeError } from './errors';
export { createTokenizer, type ArithTokenizer } from './tokenizer';
export { tokenizeScored, characterTokens, answerTokenTexts, type ScoredTokens } from './scoredTokens';
export { urlSource, hubSource, filesSource, CACHE_NAME, type CacheLike, type FileSource, type HttpOptions } from './sources';

export interface LoadedModel {
	spec: Spec;
	/** Canonical names and shapes of canonicalShapes(spec), float32. */
	weights: Map<string, Tensor>;
	config: Record<string, unknown>;
	tokenizer: ArithTokenizer;
	/** Parsed tokenizer.json and tokenizer_config.json, so another thread can build the same tokenizer. */
	tokenizerFiles: TokenizerFiles;
	source: { id: string; revision?: string; weightsSha256?: string };
}

export interface TokenizerFiles {
	json: unknown;
	config: unknown;
}

export interface LoadOptions {
	onProgress?: (p: { file: string; loaded: number; total: number | null }) => void;
	/** Refuse models whose estimateBytes exceeds this (default DEFAULT_MAX_BYTES). */
	maxBytes?: number;
}

export const DEFAULT_MAX_BYTES = 2 * 1024 ** 3;

const FAMILY_MAPS: Record<Family, (s: Spec, ckpt: CheckpointReader) => Map<string, Tensor>> = {
	gpt2: gpt2Weights,
	llama: llamaWeights,
	qwen2: llamaWeights,
	gpt_neox: gptNeoxWeights,
	transformer_lens: transformerLensWeights
};

/** Activation budget: one batch of this many sequences of up to this many tokens (arithmetic prompts are short). */
const BUDGET_BATCH = 8;
const BUDGET_TOKENS = 64;

/**
 * Rough bytes to hold the model: f32 weights plus the activations of one forward over a batch of
 * BUDGET_BATCH x min(n_ctx, BUDGET_TOKENS) tokens with every hook cached. Pure arithmetic on the spec,
 * so a config claiming a billion layers is refused before anything is allocated.
 */
export function estimateBytes(s: Spec): number {
	const { n_layers: L, d_model: D, n_heads: H, n_kv_heads: K, d_head: dh, d_vocab: V } = s;
	const M = s.attn_only ? 0 : s.d_mlp;
	const perLayer = (H + 2 * K) * D * dh + H * dh * D + (s.gated ? 3 : 2) * D * M + 4 * D + 3 * H * dh + M + D;
	const params = V * D * (s.tied ? 1 : 2) + (s.pos === 'standard' ? s.n_ctx * D : 0) + L * perLayer + 2 * D + V;
	const T = Math.min(s.n_ctx, BUDGET_TOKENS);
	// per token and layer: residual-sized hooks, q/k/v/z, per-head result, scores + pattern, MLP pre/post
	const actsPerToken = L * (6 * D + 4 * H * dh + H * D + 2 * H * T + 3 * M) + 2 * D + V;
	return 4 * (params + BUDGET_BATCH * T * actsPerToken);
}

/** GiB with 3 significant digits: '2 GiB', '2.31 GiB', '0.0123 GiB' (the CLI's --max-memory is in GiB too). */
const gib = (n: number) => `${Number((n / 1024 ** 3).toPrecision(3))} GiB`;

export async function loadModel(src: FileSource, opts: LoadOptions = {}): Promise<LoadedModel> {
	const where = src.revision ? `${src.id} (revision ${src.revision})` : src.id;
	const read = (name: string) =>
		src.read(name, opts.onProgress && ((loaded, total) => opts.onProgress!({ file: name, loaded, total })));
	const readJson = async (name: string, required: boolean): Promise<unknown> => {
		const bytes = await read(name);
		if (bytes) return parseJson(name, bytes);
		if (required) throw new ModelLoadError(name, `not found in ${where}`);
		return undefined;
	};

	const config = (await readJson('config.json', true)) as Record<string, unknown>;
	const spec = specFromConfig(config);
	const need = estimateBytes(spec);
	const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
	if (need > maxBytes)
		throw new ModelLoadError(
			'config.json',
			`this model needs about ${gib(need)} (f32 weights and activations), above the limit of ${gib(maxBytes)}; raise the memory limit (--max-memory <GiB> in the CLI) to load it anyway`,
			{ needBytes: need, limitBytes: maxBytes }
		);

	// The tokenizer is small and read first so a folder without one fails before the big download.
	const tokenizerJson = await readJson('tokenizer.json', true);
	const tokenizerConfig = (await readJson('tokenizer_config.json', false)) ?? {};
	const tokenizer = createTokenizer(tokenizerJson, tokenizerConfig, config);
	if (tokenizer.vocabSize > spec.d_vocab)
		throw new ModelLoadError('tokenizer.json', `has ids up to ${tokenizer.vocabSize - 1}, but the model's vocabulary has only ${spec.d_vocab} rows`);

	const { reader, sha256 } = await readCheckpoint(read, where);
	const weights = FAMILY_MAPS[spec.family](spec, reader);
	checkCanonical(spec, weights);
	return { spec, weights, config, tokenizer, tokenizerFiles: { json: tokenizerJson, config: tokenizerConfig }, source: { id: src.id, revision: src.revision, weightsSha256: sha256 } };
}

/** The family maps must produce exactly canonicalShapes; a mismatch is a bug in a map, caught here. */
function checkCanonical(spec: Spec, weights: Map<string, Tensor>): void {
	const expected = canonicalShapes(spec);
	for (const [name, shape] of expected) {
		const got = weights.get(name)?.shape;
		if (!got || got.join() !== shape.join())
			throw new ModelLoadError('model.safetensors', `canonical weight ${name} is [${got ?? 'missing'}], expected [${shape}]`);
	}
	for (const name of weights.keys())
		if (!expected.has(name)) throw new ModelLoadError('model.safetensors', `unexpected canonical weight ${name} for this spec`);
}
