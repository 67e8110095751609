// The one HTTP GET behind every network read of a model (urlSource, hubSource; CLI and dashboard
// worker): fetch-based, so the same code runs in browsers and Node. It bounds what a bad or hostile
// server can cost: a connect timeout (no response headers) and an idle timeout (no body bytes) end a
// hung download; a byte limit per file is checked against Content-Length before the body is read and
// enforced on the decoded bytes while streaming (which bounds a gzip bomb too); 429 and 503 are retried
// a few times with exponential backoff (or the server's Retry-After, capped); and no message ever
// prints a password or token from the URL (redactUrl).
import { ModelLoadError } from './errors';
import { DEFAULT_MAX_BYTES, gib } from './memory';

export interface DownloadOptions {
	fetch?: typeof fetch;
	/** Longest wait for the response headers, per try (default 30 000 ms). */
	connectTimeoutMs?: number;
	/**
	 * A body stalls when fewer than STALL_BYTES (or the rest of the file) arrive in this long (default
	 * 30 000 ms, i.e. under ~2 KiB/s): a server that drips a byte a second is as hung as a silent one.
	 */
	idleTimeoutMs?: number;
	/** Tries on 429, 503 or a network error before any response (default 3). */
	maxTries?: number;
	/** First backoff; doubles each retry (default 1 000 ms). */
	retryBaseDelayMs?: number;
	/** Cap on one wait, Retry-After included (default 10 000 ms). */
	maxRetryDelayMs?: number;
	/** Cancels the download (and any backoff wait); the read rejects with the signal's reason. */
	signal?: AbortSignal;
}

/** What the caller allows one file to take: loadModel passes its memory budget for the weights. */
export interface ReadOptions {
	/** Byte budget for a weight file (default DEFAULT_MAX_BYTES); JSON files have fixed caps (jsonByteLimit). */
	maxBytes?: number;
	/** How messages name that budget (default 'the <maxBytes> memory limit'). */
	budgetText?: string;
}

export type Progress = (loaded: number, total: number | null) => void;

export const DEFAULTS = { connectTimeoutMs: 30_000, idleTimeoutMs: 30_000, maxTries: 3, retryBaseDelayMs: 1_000, maxRetryDelayMs: 10_000 } as const;

const MiB = 1024 ** 2;
/** Progress that restarts the idle timeout. */
export const STALL_BYTES = 64 * 1024;
/** Real files are far below these (tokenizer.json of a 256k vocabulary: ~35 MB; configs: a few KB). */
const JSON_LIMITS: Record<string, number> = { 'config.json': MiB, 'tokenizer.json': 64 * MiB, 'tokenizer_config.json': 8 * MiB };
const OTHER_JSON_LIMIT = 16 * MiB; // model.safetensors.index.json and the like

/** The fixed cap of a JSON file by name, or undefined for a weight file (which gets the caller's budget). */
export function jsonByteLimit(name: string): number | undefined {
	return JSON_LIMITS[name] ?? (/\.(json|txt)$/.test(name) ? OTHER_JSON_LIMIT : undefined);
}

const SECRET_PARAM = /token|key|secret|password|passwd|pwd|auth|sig|credential|session/i;

/** `url` with its userinfo and the values of token-like query parameters replaced by ***, for messages. */
export function redactUrl(url: string): string {
	let u: URL;
	try {
		u = new URL(url);
	} catch {
		return url.replace(/\/\/[^/@\s]*@/, '//***@').replace(/([?&][^=&#]*(?:token|key|secret|password|auth|sig)[^=&#]*=)[^&#]*/gi, '$1***');
	}
	const userinfo = u.username || u.password;
	u.username = '';
	u.password = '';
	for (const key of [...u.searchParams.keys()]) if (SECRET_PARAM.test(key)) u.searchParams.set(key, '***');
	const out = u.href.replace(/%2A%2A%2A/g, '***');
	// A bare host prints without the '/' URL adds, as the user typed it.
	const shown = url.endsWith('/') || u.pathname !== '/' || u.search ? out : out.replace(/\/$/, '');
	return userinfo ? shown.replace('//', '//***@') : shown;
}

/** Every secret `url` carries (password, username, token-like query values), to scrub foreign error text. */
function secretsOf(url: string): string[] {
	try {
		const u = new URL(url);
		const out = [u.password, decodeURIComponent(u.password), u.username, decodeURIComponent(u.username)];
		for (const [key, value] of u.searchParams) if (SECRET_PARAM.test(key)) out.push(value, encodeURIComponent(value));
		return out.filter((s) => s.length >= 3);
	} catch {
		return [];
	}
}

const scrub = (text: string, url: string): string => secretsOf(url).reduce((t, s) => t.split(s).join('***'), text);

/** Binary sizes as people read them: '812 KiB', '64 MiB', '1.5 GiB'. */
export function formatBytes(n: number): string {
	if (n < 1024) return `${n} bytes`;
	const [unit, size] = n < MiB ? ['KiB', 1024] : n < 1024 ** 3 ? ['MiB', MiB] : ['GiB', 1024 ** 3];
	return `${Number((n / (size as number)).toPrecision(3))} ${unit}`;
}

/** Why an attempt was aborted by us (not by the caller's signal). */
class Timeout extends Error {
	constructor(readonly phase: 'connect' | 'idle', readonly ms: number) {
		super(`${phase} timeout`);
	}
}

/**
 * GET `url` for the file `name`. A 2xx body comes back whole as `bytes`; any other final status comes
 * back as `response` (body cancelled) for the caller to interpret (404 = absent, hub error codes...).
 */
export async function httpGet(
	name: string,
	url: string,
	opts: DownloadOptions & ReadOptions & { onProgress?: Progress } = {}
): Promise<{ bytes: Uint8Array; response?: undefined } | { bytes?: undefined; response: Response }> {
	const o = { ...DEFAULTS, ...definedOnly(opts) };
	const shown = redactUrl(url);
	const { href, headers } = splitCredentials(url);
	const started = Date.now();
	for (let attempt = 1; ; attempt++) {
		const controller = new AbortController();
		const unlink = link(opts.signal, controller);
		let timer = setTimeout(() => controller.abort(new Timeout('connect', o.connectTimeoutMs)), o.connectTimeoutMs);
		try {
			let res: Response;
			try {
				res = await (o.fetch ?? fetch)(href, { signal: controller.signal, headers });
			} catch (e) {
				const why = controller.signal.reason;
				if (why instanceof Timeout) throw new ModelLoadError(name, `no response from ${shown} within ${seconds(why.ms)} (connect timeout)`);
				if (opts.signal?.aborted) throw opts.signal.reason;
				if (attempt < o.maxTries) {
					await sleep(backoff(attempt, o), opts.signal);
					continue;
				}
				throw new ModelLoadError(name, scrub(`cannot fetch ${shown}: ${errorText(e)}${tries(attempt, started)}`, url));
			} finally {
				clearTimeout(timer);
			}
			if (res.status === 429 || res.status === 503) {
				await res.body?.cancel().catch(() => undefined);
				if (attempt < o.maxTries) {
					await sleep(Math.min(retryAfterMs(res) ?? backoff(attempt, o), o.maxRetryDelayMs), opts.signal);
					continue;
				}
				throw new ModelLoadError(name, `HTTP ${res.status} ${res.statusText} from ${shown}${tries(attempt, started)}; try again later`);
			}
			if (!res.ok) {
				await res.body?.cancel().catch(() => undefined);
				return { response: res };
			}
			let sinceRestart = 0;
			let received = 0;
			const restart = () => {
				clearTimeout(timer);
				sinceRestart = 0;
				timer = setTimeout(() => controller.abort(new Timeout('idle', o.idleTimeoutMs)), o.idleTimeoutMs);
			};
			restart();
			const onChunk = (n: number) => {
				received += n;
				sinceRestart += n;
				if (sinceRestart >= STALL_BYTES) restart();
			};
			try {
				return { bytes: await readBody(name, url, res, { ...opts, onChunk, signal: controller.signal }) };
			} catch (e) {
				const why = controller.signal.reason;
				if (why instanceof Timeout)
					throw new ModelLoadError(name, `download from ${shown} stalled after ${received} bytes: ${sinceRestart ? `only ${sinceRestart} bytes` : 'no data'} in ${seconds(why.ms)} (idle timeout)`);
				if (opts.signal?.aborted) throw opts.signal.reason;
				throw e;
			} finally {
				clearTimeout(timer);
			}
		} finally {
			unlink();
		}
	}
}

/**
 * The body as one Uint8Array within the byte limit of `name`, reporting progress per chunk (total from
 * Content-Length when it is the body size, i.e. no Content-Encoding). Also used for cached responses.
 */
export async function readBody(
	name: string,
	url: string,
	res: Response,
	opts: ReadOptions & { onProgress?: Progress; onChunk?: (bytes: number) => void; signal?: AbortSignal } = {}
): Promise<Uint8Array> {
	const shown = redactUrl(url);
	const limit = byteLimit(name, opts);
	const length = Number(res.headers.get('content-length'));
	const total = res.headers.get('content-encoding') || !Number.isSafeInteger(length) || length <= 0 ? null : length;
	if (total !== null && total > limit.bytes) {
		await res.body?.cancel().catch(() => undefined);
		throw limit.refuse(total);
	}
	if (!res.body) {
		const bytes = new Uint8Array(await res.arrayBuffer());
		if (bytes.length > limit.bytes) throw limit.refuse(bytes.length);
		return bytes;
	}
	// With a known size the chunks go straight into the result: one copy of the file, not two.
	const out = total !== null ? new Uint8Array(total) : null;
	const chunks: Uint8Array[] = [];
	let loaded = 0;
	const reader = res.body.getReader();
	const aborted = abortedPromise(opts.signal);
	try {
		for (let r = await race(reader.read(), aborted); !r.done; r = await race(reader.read(), aborted)) {
			opts.onChunk?.(r.value.length);
			if (loaded + r.value.length > limit.bytes) throw limit.refuse(null);
			if (out) {
				if (loaded + r.value.length > out.length) throw new ModelLoadError(name, `download from ${shown} is longer than its Content-Length of ${total} bytes`);
				out.set(r.value, loaded);
			} else chunks.push(r.value);
			loaded += r.value.length;
			opts.onProgress?.(loaded, total);
		}
	} catch (e) {
		await reader.cancel().catch(() => undefined);
		if (e instanceof ModelLoadError || opts.signal?.aborted) throw e;
		throw new ModelLoadError(name, scrub(`download from ${shown} failed after ${loaded} bytes: ${errorText(e)}`, url));
	}
	if (out) {
		if (loaded !== total) throw new ModelLoadError(name, `download from ${shown} ended after ${loaded} of ${total} bytes`);
		return out;
	}
	const whole = new Uint8Array(loaded);
	let at = 0;
	for (const c of chunks) {
		whole.set(c, at);
		at += c.length;
	}
	return whole;
}

/** The limit for `name` and the error that refuses it: a fixed cap for JSON, the caller's memory budget for weights. */
function byteLimit(name: string, opts: ReadOptions): { bytes: number; refuse: (size: number | null) => ModelLoadError } {
	const cap = jsonByteLimit(name);
	if (cap !== undefined)
		return {
			bytes: cap,
			refuse: (size) => new ModelLoadError(name, `${size === null ? 'more than' : `is ${formatBytes(size)}, above`} the ${formatBytes(cap)} limit for this file`)
		};
	const budget = opts.maxBytes ?? DEFAULT_MAX_BYTES;
	const text = opts.budgetText ?? `the ${gib(budget)} memory limit`;
	const hint = 'raise the memory limit (--max-memory <GiB> in the CLI) to load it anyway';
	return {
		bytes: budget,
		refuse: (size) =>
			size === null
				? new ModelLoadError(name, `download is more than ${text}; ${hint}`)
				: new ModelLoadError(name, `download is ${formatBytes(size)}, above ${text}; ${hint}`, { needBytes: size, limitBytes: budget })
	};
}

/** fetch refuses URLs with credentials: send them as HTTP Basic auth instead, as curl and browsers' address bars do. */
function splitCredentials(url: string): { href: string; headers?: Record<string, string> } {
	let u: URL;
	try {
		u = new URL(url);
	} catch {
		return { href: url };
	}
	if (!u.username && !u.password) return { href: url };
	const basic = `${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`;
	u.username = '';
	u.password = '';
	return { href: u.href, headers: { authorization: `Basic ${btoa(Array.from(new TextEncoder().encode(basic), (b) => String.fromCharCode(b)).join(''))}` } };
}

function link(signal: AbortSignal | undefined, controller: AbortController): () => void {
	if (!signal) return () => undefined;
	if (signal.aborted) controller.abort(signal.reason);
	const onAbort = () => controller.abort(signal.reason);
	signal.addEventListener('abort', onAbort, { once: true });
	return () => signal.removeEventListener('abort', onAbort);
}

/** Rejects when `signal` aborts, so a read that ignores the abort still ends. */
function abortedPromise(signal: AbortSignal | undefined): Promise<never> | null {
	if (!signal) return null;
	const p = new Promise<never>((_, reject) => {
		if (signal.aborted) reject(signal.reason);
		signal.addEventListener('abort', () => reject(signal.reason), { once: true });
	});
	p.catch(() => undefined);
	return p;
}

const race = <T>(p: Promise<T>, aborted: Promise<never> | null): Promise<T> => (aborted ? Promise.race([p, aborted]) : p);

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
	return new Promise((resolve, reject) => {
		if (signal?.aborted) return reject(signal.reason);
		const timer = setTimeout(() => (signal?.removeEventListener('abort', onAbort), resolve()), ms);
		const onAbort = () => (clearTimeout(timer), reject(signal!.reason));
		signal?.addEventListener('abort', onAbort, { once: true });
	});
}

const backoff = (attempt: number, o: { retryBaseDelayMs: number; maxRetryDelayMs: number }) => Math.min(o.retryBaseDelayMs * 2 ** (attempt - 1), o.maxRetryDelayMs);

/** Retry-After as milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
function retryAfterMs(res: Response): number | undefined {
	const value = res.headers.get('retry-after')?.trim();
	if (!value) return undefined;
	if (/^\d+$/.test(value)) return Number(value) * 1000;
	const at = Date.parse(value);
	return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

const seconds = (ms: number) => `${Number((ms / 1000).toPrecision(3))} s`;
const tries = (n: number, started: number) => (n > 1 ? ` (${n} tries over ${seconds(Date.now() - started)})` : '');

/** A fetch error with its cause (undici says only 'fetch failed'; the cause says ECONNREFUSED...). */
function errorText(e: unknown): string {
	const err = e as Error & { cause?: { message?: string; code?: string } };
	const cause = err?.cause?.code ?? err?.cause?.message;
	return cause && !String(err.message).includes(cause) ? `${err.message} (${cause})` : String(err?.message ?? e);
}

function definedOnly<T extends object>(o: T): Partial<T> {
	return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
