// FileSources that work in the browser and in Node (fetch-based): a folder served over HTTP, the
// Hugging Face hub, and files the user dropped. Downloads report progress from the response body
// stream and are kept in the Cache API (when there is one) under a versioned key, so a second visit
// loads offline and a format change only needs a new key. Every network read goes through download.ts
// (timeouts, byte limits, retries, redacted URLs).
import { httpGet, readBody, redactUrl, type DownloadOptions, type Progress, type ReadOptions } from './download';
import { ModelLoadError } from './errors';

export { redactUrl, type ReadOptions } from './download';

/**
 * Where a model's files come from. `read` resolves to null when the file does not exist; `options`
 * bound what it may download (HTTP sources refuse a file above its limit before or while reading it).
 */
export interface FileSource {
	id: string;
	revision?: string;
	read(name: string, onProgress?: (loaded: number, total: number | null) => void, options?: ReadOptions): Promise<Uint8Array | null>;
}

export const CACHE_NAME = 'arithlens-v1';

/** The part of the Cache API we use; tests inject an in-memory one. */
export interface CacheLike {
	match(url: string): Promise<Response | undefined>;
	put(url: string, response: Response): Promise<void>;
}

/** Timeouts, retries and cancellation (DownloadOptions, defaults in download.ts), and caching. */
export interface HttpOptions extends DownloadOptions {
	/** undefined: the browser's Cache API when available; null: no caching. */
	cache?: CacheLike | null;
}

/** Decide what a non-2xx response means: null for "file absent", or throw. */
type OnError = (name: string, url: string, res: Response) => null;

/** Files at `${baseUrl}/${name}` (e.g. '/models/add-3d' for the app's shipped models). */
export function urlSource(baseUrl: string, opts: HttpOptions = {}): FileSource {
	const base = baseUrl.replace(/\/+$/, '');
	// The id is printed ('loading …', 'not found in …'): never with a password or token in it.
	return { id: redactUrl(base), read: (name, onProgress, limits) => download(name, `${base}/${name}`, opts, onProgress, limits, notFoundIsAbsent) };
}

/** A Hugging Face hub repo at a revision (branch, tag or commit), via `${host}/${id}/resolve/${revision}/${file}`. */
export function hubSource(id: string, opts: HttpOptions & { revision?: string; host?: string } = {}): FileSource {
	const { revision = 'main', host = 'https://huggingface.co' } = opts;
	if (!/^[\w.-]+(\/[\w.-]+)?$/.test(id) || id.includes('..')) throw new ModelLoadError(id, "not a hub model id (expected 'owner/name')");
	const base = `${host.replace(/\/+$/, '')}/${id}/resolve/${encodeURIComponent(revision)}`;
	const shownHost = redactUrl(host);
	// The hub says why a file is missing in X-Error-Code; a missing revision or repo is not "file absent".
	const onError: OnError = (name, url, res) => {
		const code = res.headers.get('x-error-code');
		if (code === 'RevisionNotFound') throw new ModelLoadError(name, `revision '${revision}' of '${id}' not found on ${shownHost}`);
		if (code === 'RepoNotFound') throw new ModelLoadError(name, `model '${id}' not found on ${shownHost} (or it is private)`);
		if (code === 'GatedRepo') throw new ModelLoadError(name, `model '${id}' is gated: accept its licence on ${shownHost} first`);
		return notFoundIsAbsent(name, url, res);
	};
	return { id, revision, read: (name, onProgress, limits) => download(name, `${base}/${name}`, opts, onProgress, limits, onError) };
}

/** Files the user dropped or picked; keys may be bare names or relative paths ('folder/config.json'). */
export function filesSource(files: Map<string, Uint8Array | Blob>, id = 'local files'): FileSource {
	return {
		id,
		async read(name, onProgress) {
			const file = files.get(name) ?? [...files].find(([key]) => key.split('/').pop() === name)?.[1];
			if (file === undefined) return null;
			const bytes = file instanceof Uint8Array ? file : new Uint8Array(await file.arrayBuffer());
			onProgress?.(bytes.length, bytes.length);
			return bytes;
		}
	};
}

// Files the loader asks for that may legitimately be absent. Their absence is cached so a cached model
// loads with no network at all; a missing required file fails the load, so caching that would only
// hide a later fix (say, a model folder still being written).
const PROBED_FILES = new Set(['model.safetensors', 'tokenizer_config.json']);

const notFoundIsAbsent: OnError = (name, url, res) => {
	if (res.status === 404) return null;
	throw new ModelLoadError(name, `HTTP ${res.status} ${res.statusText} from ${redactUrl(url)}`);
};

async function download(name: string, url: string, opts: HttpOptions, onProgress: Progress | undefined, limits: ReadOptions | undefined, onError: OnError) {
	const cache = opts.cache === undefined ? await browserCache() : opts.cache;
	const cached = await cache?.match(url).catch(() => undefined);
	if (cached) return cached.status === 404 ? null : readBody(name, url, cached, { ...limits, onProgress });
	const { bytes, response } = await httpGet(name, url, { ...opts, ...limits, onProgress });
	if (response) {
		const absent = onError(name, url, response);
		if (absent === null && PROBED_FILES.has(name)) await cache?.put(url, new Response(null, { status: 404 })).catch(() => undefined);
		return absent;
	}
	// A full quota or an opaque response only costs us the cache, not the load.
	await cache?.put(url, new Response(bytes as Uint8Array<ArrayBuffer>, { headers: { 'content-length': String(bytes.length) } })).catch(() => undefined);
	return bytes;
}

async function browserCache(): Promise<CacheLike | null> {
	try {
		return globalThis.caches ? await globalThis.caches.open(CACHE_NAME) : null;
	} catch {
		return null; // e.g. an insecure origin, where the Cache API throws
	}
}
