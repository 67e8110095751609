// Capture files: safetensors (F32 tensors + string metadata, readable by safetensors.safe_open) or JSON,
// written atomically so a failed run leaves nothing behind.
import { randomBytes } from 'node:crypto';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Tensor } from '../lib/core/model/tensor';
import type { Capture } from './capture';

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

/** Write to a temporary file next to `path`, then rename: readers never see half a file, failures leave none. */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
	const tmp = join(dirname(path), `.${basename(path)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
	try {
		writeFileSync(tmp, data);
		renameSync(tmp, path);
	} catch (e) {
		rmSync(tmp, { force: true });
		throw e;
	}
}
