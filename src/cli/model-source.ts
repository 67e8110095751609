// --model: a local folder when the path exists, otherwise a Hugging Face hub id (owner/name); and
// --max-memory, the limit above which loading a model is refused. ARITHLENS_HTTP_TIMEOUT (seconds)
// overrides the downloads' connect and idle timeouts (30 s each by default), e.g. for a slow link.
import { statSync } from 'node:fs';
import { DEFAULT_MAX_BYTES, hubSource, redactUrl, type FileSource, type HttpOptions, type WeightPrecision } from '../lib/core/model/index';
import { InputError } from './errors';
import { folderSource } from './node-source';

export const DEFAULT_HUB_HOST = 'https://huggingface.co';
const HUB_ID = /^[\w.-]+\/[\w.-]+$/;

export interface ModelArgs {
	model: string;
	revision?: string;
	hubHost?: string;
}

/** The source, and whether it is remote (downloads then get a progress line). */
export function resolveModelSource({ model, revision, hubHost }: ModelArgs): { source: FileSource; remote: boolean } {
	const stats = statSync(model, { throwIfNoEntry: false });
	if (stats) {
		if (!stats.isDirectory()) throw new InputError(`--model: '${model}' is a file; give the model's folder`);
		if (revision !== undefined || hubHost !== undefined)
			throw new InputError(`--model: '${model}' is a local folder; --revision and --hub-host apply to hub ids only`);
		return { source: folderSource(model), remote: false };
	}
	if (!HUB_ID.test(model) || model.includes('..'))
		throw new InputError(`--model: no folder '${model}', and not a hub id (owner/name)`);
	const host = hubHost ?? DEFAULT_HUB_HOST;
	if (!/^https?:\/\/[^/]/.test(host)) throw new InputError(`--hub-host: '${redactUrl(host)}' is not an http(s) URL`);
	if (revision === '') throw new InputError('--revision: empty');
	// Node has no Cache API: every run downloads (the tiny arithmetic models are a few MB at most).
	return { source: hubSource(model, { revision, host, cache: null, ...httpTimeouts(process.env.ARITHLENS_HTTP_TIMEOUT) }), remote: true };
}

/** ARITHLENS_HTTP_TIMEOUT=<seconds> as both download timeouts; unset keeps the defaults. */
export function httpTimeouts(value: string | undefined): Pick<HttpOptions, 'connectTimeoutMs' | 'idleTimeoutMs'> {
	if (value === undefined || value === '') return {};
	const s = Number(value);
	if (!/^\s*(\d+\.?\d*|\.\d+)\s*$/.test(value) || !(s > 0) || !Number.isFinite(s))
		throw new InputError(`ARITHLENS_HTTP_TIMEOUT: '${value}' is not a positive number of seconds (e.g. 60)`);
	return { connectTimeoutMs: s * 1000, idleTimeoutMs: s * 1000 };
}

export const MAX_MEMORY_HELP = `      --max-memory <GiB>   memory limit (default ${DEFAULT_MAX_BYTES / 1024 ** 3}): a model whose weights, onnxruntime's
                           copy and activations are estimated above it is refused; decimals allowed, e.g. 0.5
      --precision <p>      weights as stored (auto, default: F16/BF16 stay half), float32 (widen all)
                           or float16 (narrow F32 checkpoints to F16: half the memory)`;

const PRECISIONS: readonly WeightPrecision[] = ['auto', 'float32', 'float16'];

/** --precision as loadModel's precision; undefined keeps 'auto'. */
export function weightPrecision(value: string | undefined): WeightPrecision | undefined {
	if (value === undefined) return undefined;
	if (!(PRECISIONS as readonly string[]).includes(value)) throw new InputError(`--precision: '${value}' is not one of ${PRECISIONS.join(', ')}`);
	return value as WeightPrecision;
}

/** --max-memory <GiB> as loadModel's maxBytes; undefined keeps the default. */
export function maxMemoryBytes(value: string | undefined): number | undefined {
	if (value === undefined) return undefined;
	const gib = Number(value);
	if (!/^\s*(\d+\.?\d*|\.\d+)\s*$/.test(value) || !(gib > 0) || !Number.isFinite(gib))
		throw new InputError(`--max-memory: '${value}' is not a positive number of GiB (e.g. 4 or 0.5)`);
	return gib * 1024 ** 3;
}
