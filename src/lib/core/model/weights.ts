// Reads model.safetensors, or model.safetensors.index.json and its shards, from a FileSource into a
// CheckpointReader, and fingerprints the weight files (sha256) for export provenance.
import type { CheckpointReader } from './checkpoints/ops';
import { ModelLoadError, parseJson } from './errors';
import { parseSafetensors, toWeight, type RawTensor, type WeightPrecision } from './safetensors';

const SINGLE = 'model.safetensors';
const INDEX = 'model.safetensors.index.json';
// Shard names come from a downloaded file: keep them plain file names so a source never reads outside its folder.
const SAFE_NAME = /^[\w-][\w.-]*$/;

export type ReadFile = (name: string) => Promise<Uint8Array | null>;

export async function readCheckpoint(read: ReadFile, where: string, precision: WeightPrecision = 'auto'): Promise<{ reader: CheckpointReader; sha256?: string }> {
	const single = await read(SINGLE);
	if (single) {
		const tensors = parseSafetensors(SINGLE, single);
		return { reader: makeReader(tensors, () => SINGLE, precision), sha256: await sha256Hex(single) };
	}
	const indexBytes = await read(INDEX);
	if (!indexBytes) throw new ModelLoadError(SINGLE, `not found in ${where}, and neither is ${INDEX}`);
	const weightMap = parseWeightMap(parseJson(INDEX, indexBytes));
	const tensors = new Map<string, RawTensor>();
	const fileOf = new Map<string, string>();
	const digests: string[] = [];
	for (const shard of [...new Set(weightMap.values())].sort()) {
		const bytes = await read(shard);
		if (!bytes) throw new ModelLoadError(shard, `listed in ${INDEX} but not found in ${where}`);
		for (const [name, t] of parseSafetensors(shard, bytes)) {
			if (tensors.has(name)) throw new ModelLoadError(shard, `tensor '${name}' is also in ${fileOf.get(name)}`);
			tensors.set(name, t);
			fileOf.set(name, shard);
		}
		digests.push(`${await sha256Hex(bytes)}  ${shard}\n`);
	}
	// A sharded checkpoint's fingerprint is the sha256 of its `sha256sum`-style listing of shards.
	const listing = digests.length ? await sha256Hex(new TextEncoder().encode(digests.join(''))) : undefined;
	return { reader: makeReader(tensors, (name) => fileOf.get(name) ?? weightMap.get(name) ?? INDEX, precision), sha256: listing };
}

function parseWeightMap(index: unknown): Map<string, string> {
	const wm = typeof index === 'object' && index !== null ? (index as Record<string, unknown>).weight_map : undefined;
	if (typeof wm !== 'object' || wm === null || Array.isArray(wm)) throw new ModelLoadError(INDEX, "missing field 'weight_map'");
	const out = new Map<string, string>();
	for (const [name, shard] of Object.entries(wm)) {
		if (typeof shard !== 'string' || !SAFE_NAME.test(shard))
			throw new ModelLoadError(INDEX, `weight_map entry '${name}' names ${JSON.stringify(shard)}, not a plain file name`);
		out.set(name, shard);
	}
	return out;
}

function makeReader(tensors: Map<string, RawTensor>, fileOf: (name: string) => string, precision: WeightPrecision): CheckpointReader {
	return {
		has: (name) => tensors.has(name),
		names: () => [...tensors.keys()],
		get(name, shape) {
			const t = tensors.get(name);
			if (!t) throw new ModelLoadError(fileOf(name), `missing tensor '${name}'`);
			if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))
				throw new ModelLoadError(fileOf(name), `tensor '${name}' has shape [${t.shape}], expected [${shape}]`);
			return toWeight(fileOf(name), name, t, [...shape], precision);
		}
	};
}

/** Hex sha256 via WebCrypto; undefined where it is unavailable (browsers on plain-http origins). */
async function sha256Hex(bytes: Uint8Array): Promise<string | undefined> {
	const subtle = globalThis.crypto?.subtle;
	if (!subtle) return undefined;
	const digest = new Uint8Array(await subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
	return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}
