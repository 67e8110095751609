// Capture files: safetensors (F32 tensors + string metadata, readable by safetensors.safe_open) or JSON,
// written atomically (writeAllAtomic: all of a run's files or none) so a failed run leaves nothing behind.
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Tensor } from '../lib/core/model/tensor';
import type { Capture } from './capture';
import { InputError } from './errors';

export type CaptureFormat = 'safetensors' | 'json';

/** The output format named by the file extension, or null. */
export function formatOf(path: string): CaptureFormat | null {
	return path.endsWith('.safetensors') ? 'safetensors' : path.endsWith('.json') ? 'json' : null;
}

/** safetensors: u64 LE header length, JSON header (metadata values are strings), little-endian F32 data. */
export function encodeSafetensors(tensors: Map<string, Tensor>, metadata: Record<string, string>): Uint8Array {
	const header: Record<string, unknown> = { __metadata__: metadata };
	let offset = 0;
	for (const [name, t] of tensors) {
		header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + 4 * t.data.length] };
		offset += 4 * t.data.length;
	}
	// The format pads the header with spaces so the data starts 8-byte aligned. The length counts UTF-8
	// bytes, not UTF-16 units: token strings ('Ġ', '▁') and the text may be non-ASCII.
	const json = new TextEncoder().encode(JSON.stringify(header));
	const head = new Uint8Array(Math.ceil(json.length / 8) * 8).fill(0x20);
	head.set(json);
	const out = new Uint8Array(8 + head.length + offset);
	const view = new DataView(out.buffer);
	view.setBigUint64(0, BigInt(head.length), true);
	out.set(head, 8);
	let at = 8 + head.length;
	for (const t of tensors.values()) for (const x of t.data) (view.setFloat32(at, x, true), (at += 4));
	return out;
}

/**
 * JSON cannot hold ±Infinity or NaN (hook_attn_scores is -Infinity above the diagonal): they are written
 * as the strings "Infinity", "-Infinity", "NaN", which Number() and Python's float() read back.
 * Finite values keep 9 significant digits, enough to restore the exact float32.
 */
const jsonNumber = (x: number): number | string => (Number.isFinite(x) ? Number(x.toPrecision(9)) : String(x));

export function encodeCaptureJson(capture: Capture, metadata: Record<string, string>): string {
	const tensors: Record<string, { shape: number[]; data: (number | string)[] }> = {};
	for (const [name, t] of capture.tensors) tensors[name] = { shape: t.shape, data: Array.from(t.data, jsonNumber) };
	return JSON.stringify({ tokens: capture.tokens, token_strings: capture.tokenStrings, metadata, tensors }) + '\n';
}

/** A file to write and the flag that named it (for the error message). */
export interface OutFile {
	path: string;
	data: Uint8Array | string;
	flag?: string;
}

/** Temporary and lock files of the write in progress: main.ts removes them on SIGINT / SIGTERM / EPIPE. */
const pending = new Set<string>();

export function removePendingFiles(): void {
	for (const p of pending) rmSync(p, { force: true });
	pending.clear();
}

const tempPathOf = (path: string) => join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);

/** fs error codes that mean "this path cannot be written" (the user picks another): exit 2. */
const PATH_ERRORS: Readonly<Record<string, string>> = {
	EACCES: 'permission denied',
	EPERM: 'operation not permitted',
	EROFS: 'read-only file system',
	ENOENT: 'no such folder',
	ENOTDIR: 'a parent is not a folder',
	EISDIR: 'is a folder',
	ENAMETOOLONG: 'name too long'
};

function asPathError(e: unknown, file: OutFile): unknown {
	const code = (e as NodeJS.ErrnoException)?.code;
	if (!code || !Object.hasOwn(PATH_ERRORS, code)) return e;
	return new InputError(`${file.flag ? `--${file.flag}` : 'output'}: cannot write '${file.path}': ${PATH_ERRORS[code]} (${code})`);
}

const LOCK_WAIT_MS = 10_000;
const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

function alive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch (e) {
		return (e as NodeJS.ErrnoException).code === 'EPERM';
	}
}

/** Creates `lock` ('wx': fails if it exists), waiting while a live process holds it; a dead holder's lock is taken over. */
function acquireLock(lock: string): void {
	const until = Date.now() + LOCK_WAIT_MS;
	for (;;) {
		try {
			writeFileSync(lock, `${process.pid}\n`, { flag: 'wx' });
			pending.add(lock);
			return;
		} catch (e) {
			if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
		}
		let holder = NaN;
		try {
			holder = Number(readFileSync(lock, 'utf8').trim() || NaN);
		} catch {
			continue; // released in between: try again at once
		}
		if (Number.isInteger(holder) && !alive(holder)) {
			rmSync(lock, { force: true }); // left by a run killed with SIGKILL
			continue;
		}
		if (Date.now() > until) throw new Error(`another arithlens run has held '${lock}' for ${LOCK_WAIT_MS / 1000} s; remove it if no run is writing there`);
		sleep(25);
	}
}

/**
 * Writes every file or none, and never a mix of two runs. Each file is written in full to
 * `.name.<pid>.tmp` next to it (the slow part, no lock held); then, holding `path.lock` of every file
 * (created exclusively, taken in sorted order so two runs cannot each hold one and wait for the other),
 * the temporaries are renamed over the targets and the locks dropped. A rename is atomic, and two runs
 * writing the same files rename them one run after the other, so the files always come from one run.
 * On any failure every temporary is removed; the targets keep what they held before.
 */
export function writeAllAtomic(files: readonly OutFile[]): void {
	const temps = files.map((f) => tempPathOf(f.path));
	const locks = [...new Set(files.map((f) => `${resolve(f.path)}.lock`))].sort();
	let at = 0;
	try {
		for (; at < files.length; at++) {
			pending.add(temps[at]);
			writeFileSync(temps[at], files[at].data);
		}
		at = 0;
		for (const lock of locks) acquireLock(lock);
		for (; at < files.length; at++) renameSync(temps[at], files[at].path);
	} catch (e) {
		throw asPathError(e, files[Math.min(at, files.length - 1)]);
	} finally {
		for (const p of [...temps, ...locks.filter((l) => pending.has(l))]) {
			rmSync(p, { force: true });
			pending.delete(p);
		}
	}
}

/** One file, atomically: readers never see half a file, failures leave none. */
export function writeFileAtomic(path: string, data: Uint8Array | string, flag?: string): void {
	writeAllAtomic([{ path, data, flag }]);
}
