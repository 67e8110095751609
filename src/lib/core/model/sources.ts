// FileSources that work in the browser and in Node (fetch-based): a folder served over HTTP, the
// Hugging Face hub, and files the user dropped. Downloads report progress from the response body
// stream and are kept in the Cache API (when there is one) under a versioned key, so a second visit
// loads offline and a format change only needs a new key.
import { ModelLoadError } from './errors';

/** Where a model's files come from. `read` resolves to null when the file does not exist. */
export interface FileSource {
	id: string;
	revision?: string;
	read(name: string, onProgress?: (loaded: number, total: number | null) => void): Promise<Uint8Array | null>;
}

export const CACHE_NAME = 'arithlens-v1';

/** The part of the Cache API we use; tests inject an in-memory one. */
export interface CacheLike {
	match(url: string): Promise<Response | undefined>;
	put(url: string, response: Response): Promise<void>;
}

export interface HttpOptions {
	fetch?: typeof fetch;
	/** undefined: the browser's Cache API when available; null: no caching. */
	cache?: CacheLike | null;
}

type Progress = (loaded: number, total: number | null) => void;
/** Decide what a non-2xx response means: null for "file absent", or throw. */
type OnError = (name: string, url: string, res: Response) => null;

/** Files at `${baseUrl}/${name}` (e.g. '/models/add-3d' for the app's shipped models). */
export function urlSource(baseUrl: string, opts: HttpOptions = {}): FileSource {
	const base = baseUrl.replace(/\/+$/, '');
	return { id: base, read: (name, onProgress) => download(name, `${base}/${name}`, opts, onProgress, notFoundIsAbsent) };
}

/** A Hugging Face hub repo at a revision (branch, tag or commit), via `${host}/${id}/resolve/${revision}/${file}`. */
export function hubSource(id: string, opts: HttpOptions & { revision?: string; host?: string } = {}): FileSource {
	const { revision = 'main', host = 'https://huggingface.co' } = opts;
	if (!/^[\w.-]+(\/[\w.-]+)?$/.test(id) || id.includes('..')) throw new ModelLoadError(id, "not a hub model id (expected 'owner/name')");
	const base = `${host.replace(/\/+$/, '')}/${id}/resolve/${encodeURIComponent(revision)}`;
	// The hub says why a file is missing in X-Error-Code; a missing revision or repo is not "file absent".
	const onError: OnError = (name, url, res) => {
		const code = res.headers.get('x-error-code');
		if (code === 'RevisionNotFound') throw new ModelLoadError(name, `revision '${revision}' of '${id}' not found on ${host}`);
		if (code === 'RepoNotFound') throw new ModelLoadError(name, `model '${id}' not found on ${host} (or it is private)`);
		if (code === 'GatedRepo') throw new ModelLoadError(name, `model '${id}' is gated: accept its licence on ${host} first`);
		return notFoundIsAbsent(name, url, res);
	};
	return { id, revision, read: (name, onProgress) => download(name, `${base}/${name}`, opts, onProgress, onError) };
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
	throw new ModelLoadError(name, `HTTP ${res.status} ${res.statusText} from ${url}`);
};

async function download(name: string, url: string, opts: HttpOptions, onProgress: Progress | undefined, onError: OnError) {
	const cache = opts.cache === undefined ? await browserCache() : opts.cache;
	const cached = await cache?.match(url).catch(() => undefined);
	if (cached) return cached.status === 404 ? null : readBody(name, url, cached, onProgress);
	let res: Response;
	try {
		res = await (opts.fetch ?? fetch)(url);
	} catch (e) {
		throw new ModelLoadError(name, `cannot fetch ${url}: ${(e as Error).message}`);
	}
	if (!res.ok) {
		await res.body?.cancel().catch(() => undefined);
		const absent = onError(name, url, res);
		if (absent === null && PROBED_FILES.has(name)) await cache?.put(url, new Response(null, { status: 404 })).catch(() => undefined);
		return absent;
	}
	const bytes = await readBody(name, url, res, onProgress);
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

/** The body as one Uint8Array, reporting progress per chunk (total from Content-Length when it is the body size). */
async function readBody(name: string, url: string, res: Response, onProgress?: Progress): Promise<Uint8Array> {
	const length = Number(res.headers.get('content-length'));
	const total = res.headers.get('content-encoding') || !Number.isSafeInteger(length) || length <= 0 ? null : length;
	const chunks: Uint8Array[] = [];
	let loaded = 0;
	try {
		if (!res.body) return new Uint8Array(await res.arrayBuffer());
		const reader = res.body.getReader();
		for (let r = await reader.read(); !r.done; r = await reader.read()) {
			chunks.push(r.value);
			loaded += r.value.length;
			onProgress?.(loaded, total);
		}
	} catch (e) {
		throw new ModelLoadError(name, `download from ${url} failed after ${loaded} bytes: ${(e as Error).message}`);
	}
	if (total !== null && loaded !== total) throw new ModelLoadError(name, `download from ${url} ended after ${loaded} of ${total} bytes`);
	const out = new Uint8Array(loaded);
	let at = 0;
	for (const c of chunks) {
		out.set(c, at);
		at += c.length;
	}
	return out;
}
