// Provenance of an exported table: enough to reproduce it (tool version, exact weights, exact
// prompts, method, metric, seed, backend). Hashes use WebCrypto, present in browsers and Node 20.

export interface ModelRef {
	/** Hub id (owner/name), or a local model folder's name: never an absolute path (portableModelId). */
	id: string;
	/** Hub revision (commit); one of revision / weights_sha256 pins the weights. */
	revision?: string;
	/** sha256 of model.safetensors (or of the shards, concatenated in index order). */
	weights_sha256?: string;
}

export interface Provenance {
	arithlens_version: string;
	model: ModelRef;
	/** Task spec string (docs/tasks.md) of a generated prompt set… */
	task?: string;
	/** …or the sha256 of the prompt file's bytes, */
	prompt_file_sha256?: string;
	/** and its base name (heldout.jsonl), not its path. */
	prompt_file?: string;
	method: string;
	metric: string;
	n_prompts: number;
	/** Seed of the prompt set / resampling permutation; null where nothing was random. */
	seed: number | null;
	backend: string;
	/** ISO 8601. */
	timestamp: string;
}

export type ProvenanceInput = Omit<Provenance, 'timestamp'> & { timestamp?: Date | string };

const SHA256 = /^[0-9a-f]{64}$/;
const ABSOLUTE = /^(\/|\\|[A-Za-z]:[\\/])/;

/**
 * What an exported file records of a local path: its last component. An absolute path says where
 * the file sat on one machine (/home/<user>/...), which is private and useless to a reader; hub ids
 * and relative names are kept as given. The weights are pinned by weights_sha256, not by the path.
 */
export const portableName = (path: string): string => (ABSOLUTE.test(path) ? (path.split(/[\\/]+/).filter(Boolean).pop() ?? path) : path);

/** Check and complete provenance; the arithlens version comes from package.json at build time, as a parameter. */
export function makeProvenance(input: ProvenanceInput): Provenance {
	const fail = (msg: string): never => {
		throw new TypeError(`provenance: ${msg}`);
	};
	if (!input.arithlens_version) fail('arithlens_version is required');
	if (!input.model?.id) fail('model.id (hub id or path) is required');
	if (!input.model.revision && !input.model.weights_sha256) fail('model needs a revision or weights_sha256 to pin the weights');
	if (!input.task && !input.prompt_file_sha256) fail('a task spec or prompt_file_sha256 is required');
	for (const [name, v] of [['model.weights_sha256', input.model.weights_sha256], ['prompt_file_sha256', input.prompt_file_sha256]] as const) {
		if (v !== undefined && !SHA256.test(v)) fail(`${name} must be 64 lowercase hex digits, got '${v}'`);
	}
	if (!Number.isInteger(input.n_prompts) || input.n_prompts < 1) fail(`n_prompts must be a positive integer, got ${input.n_prompts}`);
	if (input.seed !== null && !Number.isInteger(input.seed)) fail(`seed must be an integer or null, got ${input.seed}`);
	for (const key of ['method', 'metric', 'backend'] as const) if (!input[key]) fail(`${key} is required`);
	const ts = input.timestamp ?? new Date();
	const timestamp = typeof ts === 'string' ? ts : ts.toISOString();
	if (Number.isNaN(Date.parse(timestamp))) fail(`timestamp '${timestamp}' is not a date`);
	return {
		arithlens_version: input.arithlens_version,
		model: { ...input.model, id: portableName(input.model.id) },
		...(input.task ? { task: input.task } : {}),
		...(input.prompt_file_sha256 ? { prompt_file_sha256: input.prompt_file_sha256 } : {}),
		...(input.prompt_file ? { prompt_file: portableName(input.prompt_file) } : {}),
		method: input.method,
		metric: input.metric,
		n_prompts: input.n_prompts,
		seed: input.seed,
		backend: input.backend,
		timestamp
	};
}

/** sha256 of bytes (a string is hashed as UTF-8), as lowercase hex. */
export async function sha256Hex(data: Uint8Array | ArrayBuffer | string): Promise<string> {
	const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data instanceof Uint8Array ? data : new Uint8Array(data);
	const digest = await globalThis.crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
	return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}
