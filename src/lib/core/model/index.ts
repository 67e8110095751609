// Model loading: a FileSource (local folder, URL, Hugging Face hub, dropped files) -> Spec, canonical
// weights (f32, or half as stored), tokenizer and provenance. Families differ only in their small name maps under
// checkpoints/; everything downstream sees one TransformerLens-shaped layout (spec.ts).
import { gpt2Weights } from './checkpoints/gpt2';
import { gptNeoxWeights } from './checkpoints/gpt_neox';
import { llamaWeights } from './checkpoints/llama';
import type { CheckpointReader } from './checkpoints/ops';
import { transformerLensWeights } from './checkpoints/transformer_lens';
import { specFromConfig } from './config';
import { ModelLoadError, parseJson } from './errors';
import { canonicalShapes, type Family, type Spec } from './spec';
import type { Tensor, Weight } from './tensor';
import { DEFAULT_MAX_BYTES, estimateBytes, gib, storedWeightBytes } from './memory';
import type { WeightPrecision } from './safetensors';
import { createTokenizer, type ArithTokenizer } from './tokenizer';
import type { FileSource } from './sources';
import { readCheckpoint } from './weights';

export { ModelLoadError, TokenizeError } from './errors';
export { DEFAULT_MAX_BYTES, estimateBytes, estimateMemory, storedWeightBytes, type MemoryEstimate } from './memory';
export type { WeightPrecision } from './safetensors';
export { createTokenizer, type ArithTokenizer } from './tokenizer';
export { tokenizeScored, characterTokens, answerTokenTexts, type ScoredTokens } from './scoredTokens';
export { urlSource, hubSource, filesSource, redactUrl, CACHE_NAME, type CacheLike, type FileSource, type HttpOptions, type ReadOptions } from './sources';

export interface LoadedModel {
	spec: Spec;
	/** Canonical names and shapes of canonicalShapes(spec): float32, or half precision as stored (LoadOptions.precision). */
	weights: Map<string, Weight>;
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
	/** 'auto' (default): weights stay as stored, F16/BF16 half; 'float32' widens them; 'float16' narrows F32 to F16. */
	precision?: WeightPrecision;
	/** Keep loading a checkpoint with NaN/Inf weights (default: refused, naming the first such tensor). */
	allowNonFinite?: boolean;
}

const FAMILY_MAPS: Record<Family, (s: Spec, ckpt: CheckpointReader) => Map<string, Weight>> = {
	gpt2: gpt2Weights,
	llama: llamaWeights,
	qwen2: llamaWeights,
	gpt_neox: gptNeoxWeights,
	transformer_lens: transformerLensWeights
};

export async function loadModel(src: FileSource, opts: LoadOptions = {}): Promise<LoadedModel> {
	const where = src.revision ? `${src.id} (revision ${src.revision})` : src.id;
	const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
	// The weight files share the memory budget: each may take what the ones before it left, so a
	// server's file above the limit is refused before (or while) its body is read, not after.
	let weightBytes = 0;
	const read = async (name: string) => {
		const left = maxBytes - weightBytes;
		const budgetText = weightBytes ? `the ${gib(left)} left of the ${gib(maxBytes)} memory limit after the other shards` : undefined;
		const bytes = await src.read(name, opts.onProgress && ((loaded, total) => opts.onProgress!({ file: name, loaded, total })), { maxBytes: left, budgetText });
		if (bytes && name.endsWith('.safetensors')) weightBytes += bytes.length;
		if (bytes && name === SHARD_INDEX) refuseTotalSize(bytes, maxBytes);
		return bytes;
	};
	const readJson = async (name: string, required: boolean): Promise<unknown> => {
		const bytes = await read(name);
		if (bytes) return parseJson(name, bytes);
		if (required) throw new ModelLoadError(name, `not found in ${where}`);
		return undefined;
	};

	const config = (await readJson('config.json', true)) as Record<string, unknown>;
	const spec = specFromConfig(config);
	const precision = opts.precision ?? 'auto';
	const need = estimateBytes(spec, storedWeightBytes(config), precision);
	if (need > maxBytes)
		throw new ModelLoadError(
			'config.json',
			`this model needs about ${gib(need)} (weights, onnxruntime's copy and activations), above the limit of ${gib(maxBytes)}; raise the memory limit (--max-memory <GiB> in the CLI) to load it anyway`,
			{ needBytes: need, limitBytes: maxBytes }
		);

	// The tokenizer is small and read first so a folder without one fails before the big download.
	const tokenizerJson = await readJson('tokenizer.json', true);
	const tokenizerConfig = (await readJson('tokenizer_config.json', false)) ?? {};
	const tokenizer = createTokenizer(tokenizerJson, tokenizerConfig, config);
	if (tokenizer.vocabSize > spec.d_vocab)
		throw new ModelLoadError('tokenizer.json', `has ids up to ${tokenizer.vocabSize - 1}, but the model's vocabulary has only ${spec.d_vocab} rows`);

	const { reader, sha256 } = await readCheckpoint(read, where, precision, { allowNonFinite: opts.allowNonFinite });
	const weights = FAMILY_MAPS[spec.family](spec, reader);
	checkCanonical(spec, weights);
	return { spec, weights, config, tokenizer, tokenizerFiles: { json: tokenizerJson, config: tokenizerConfig }, source: { id: src.id, revision: src.revision, weightsSha256: sha256 } };
}

const SHARD_INDEX = 'model.safetensors.index.json';

/** A shard index whose metadata.total_size is above the budget is refused before any shard is downloaded. */
function refuseTotalSize(indexBytes: Uint8Array, maxBytes: number): void {
	let total: unknown;
	try {
		total = (parseJson(SHARD_INDEX, indexBytes) as { metadata?: { total_size?: unknown } })?.metadata?.total_size;
	} catch {
		return; // readCheckpoint reports a broken index
	}
	if (typeof total === 'number' && total > maxBytes)
		throw new ModelLoadError(
			SHARD_INDEX,
			`metadata.total_size says the shards are ${gib(total)}, above the ${gib(maxBytes)} memory limit; raise the memory limit (--max-memory <GiB> in the CLI) to load it anyway`,
			{ needBytes: total, limitBytes: maxBytes }
		);
}

/** The family maps must produce exactly canonicalShapes; a mismatch is a bug in a map, caught here. */
function checkCanonical(spec: Spec, weights: Map<string, Weight>): void {
	const expected = canonicalShapes(spec);
	for (const [name, shape] of expected) {
		const got = weights.get(name)?.shape;
		if (!got || got.join() !== shape.join())
			throw new ModelLoadError('model.safetensors', `canonical weight ${name} is [${got ?? 'missing'}], expected [${shape}]`);
	}
	for (const name of weights.keys())
		if (!expected.has(name)) throw new ModelLoadError('model.safetensors', `unexpected canonical weight ${name} for this spec`);
}
