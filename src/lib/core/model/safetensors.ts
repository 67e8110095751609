// safetensors parser: 8-byte little-endian header length, JSON header, raw tensor bytes.
// Every offset is checked against the input before anything is allocated, so a garbled or hostile
// file fails with a ModelLoadError and never makes us allocate more than the file itself.
import { jsonProblem, ModelLoadError } from './errors';
import type { Weight } from './tensor';

/** Bytes per element of every dtype the format defines; only the float ones convert to f32. */
const DTYPE_BYTES: Record<string, number> = {
	F64: 8, F32: 4, F16: 2, BF16: 2, F8_E4M3: 1, F8_E5M2: 1,
	I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1
};
const FLOAT_DTYPES = ['F32', 'F16', 'BF16'] as const;

/** One tensor as stored: a view into the file's bytes, not yet converted. */
export interface RawTensor {
	dtype: string;
	shape: number[];
	bytes: Uint8Array;
}

// The reference implementation refuses headers above 100 MB; so do we.
const MAX_HEADER_BYTES = 100_000_000;

export function parseSafetensors(file: string, buf: Uint8Array): Map<string, RawTensor> {
	const fail = (problem: string): never => {
		throw new ModelLoadError(file, problem);
	};
	if (buf.length < 8) fail(`truncated: ${buf.length} bytes, a safetensors file starts with an 8-byte header length`);
	const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
	const length = view.getBigUint64(0, true);
	const available = buf.length - 8;
	if (length > BigInt(available)) fail(`header length ${length} is beyond the file (${available} bytes after the length)`);
	if (length > MAX_HEADER_BYTES) fail(`header length ${length} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
	const low = Number(length);
	let header: unknown;
	try {
		header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(8, 8 + low)));
	} catch (e) {
		fail(`garbled header (${jsonProblem(e)})`);
	}
	if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not a JSON object');
	const data = buf.subarray(8 + low);
	const tensors = new Map<string, RawTensor>();
	const spans: [number, number, string][] = [];
	for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
		if (name === '__metadata__') continue;
		const { dtype, shape, begin, end } = checkEntry(name, info, data.length, fail);
		spans.push([begin, end, name]);
		tensors.set(name, { dtype, shape, bytes: data.subarray(begin, end) });
	}
	spans.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
	for (let i = 1; i < spans.length; i++) {
		const [prev, cur] = [spans[i - 1], spans[i]];
		if (cur[0] < prev[1]) fail(`tensors '${prev[2]}' and '${cur[2]}' have overlapping data_offsets`);
	}
	return tensors;
}

function checkEntry(name: string, info: unknown, dataLength: number, fail: (p: string) => never) {
	const where = `tensor '${name}'`;
	if (typeof info !== 'object' || info === null || Array.isArray(info)) fail(`${where}: entry is not an object`);
	const { dtype, shape, data_offsets: offsets } = info as Record<string, unknown>;
	if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES))
		fail(`${where}: unknown dtype ${JSON.stringify(dtype)} (known: ${Object.keys(DTYPE_BYTES).join(', ')})`);
	const isIndex = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
	if (!Array.isArray(shape) || !shape.every(isIndex)) fail(`${where}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
	if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isIndex))
		fail(`${where}: data_offsets ${JSON.stringify(offsets)} is not [begin, end]`);
	const [begin, end] = offsets as [number, number];
	if (begin > end || end > dataLength) fail(`${where}: data_offsets [${begin}, ${end}] outside the ${dataLength} data bytes`);
	// Multiply step by step against the byte span so a huge shape cannot overflow into a match.
	const span = end - begin;
	let bytes = (shape as number[]).includes(0) ? 0 : DTYPE_BYTES[dtype as string];
	for (const d of shape as number[]) {
		bytes *= d;
		if (bytes > span) break;
	}
	if (bytes !== span) fail(`${where}: shape [${shape}] of ${dtype} needs a different size than data_offsets [${begin}, ${end}] (${span} bytes)`);
	return { dtype: dtype as string, shape: shape as number[], begin, end };
}

/** How the loader keeps weights: as stored ('auto': F32 stays f32, F16/BF16 stay half), all widened to f32, or f32 narrowed to f16. */
export type WeightPrecision = 'auto' | 'float32' | 'float16';

/**
 * A stored F32/F16/BF16 tensor as a weight of `precision`: a fresh, aligned copy (the weights never
 * pin the file's bytes), widened to f32, kept half, or (float16) rounded from f32 to the nearest f16.
 */
export function toWeight(file: string, name: string, t: RawTensor, shape: number[], precision: WeightPrecision): Weight {
	if (precision === 'float32' || (t.dtype === 'F32' && precision === 'auto')) return { data: toFloat32(file, name, t), shape };
	if (t.dtype === 'F16' || t.dtype === 'BF16') {
		const data = new Uint16Array(new Uint8Array(t.bytes).buffer, 0, t.bytes.length / 2);
		return { data, shape, dtype: t.dtype === 'F16' ? 'float16' : 'bfloat16' };
	}
	const f32 = toFloat32(file, name, t);
	const data = new Uint16Array(f32.length);
	for (let i = 0; i < f32.length; i++) data[i] = floatToHalf(f32[i]);
	return { data, shape, dtype: 'float16' };
}

/** Convert a stored F32/F16/BF16 tensor to a fresh Float32Array (little-endian, like the format). */
export function toFloat32(file: string, name: string, t: RawTensor): Float32Array {
	const n = t.bytes.length / (DTYPE_BYTES[t.dtype] ?? 1);
	// Copy into a fresh, aligned buffer (not .slice(): on a Node Buffer that is a view), so the
	// typed-array views below are always legal and the weights never pin the file's bytes.
	const copy = () => new Uint8Array(t.bytes).buffer;
	if (t.dtype === 'F32') return new Float32Array(copy(), 0, n);
	if (t.dtype === 'BF16') return bf16ToFloat32(new Uint16Array(copy(), 0, n));
	if (t.dtype === 'F16') {
		const half = new Uint16Array(copy(), 0, n);
		const out = new Float32Array(n);
		for (let i = 0; i < n; i++) out[i] = halfToFloat(half[i]);
		return out;
	}
	throw new ModelLoadError(file, `tensor '${name}' has dtype ${t.dtype}; weights must be ${FLOAT_DTYPES.join(', ')}`);
}

function halfToFloat(h: number): number {
	const sign = h & 0x8000 ? -1 : 1;
	const exp = (h >> 10) & 0x1f;
	const frac = h & 0x3ff;
	if (exp === 0) return sign * frac * 2 ** -24; // subnormal
	if (exp === 31) return frac ? NaN : sign * Infinity;
	return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The float16 bits nearest to x (round half to even; overflow to ±Infinity, NaN stays NaN), like torch's .half(). */
export function floatToHalf(x: number): number {
	f32[0] = x;
	const b = u32[0];
	const sign = (b >>> 16) & 0x8000;
	const exp = (b >>> 23) & 0xff;
	const mant = b & 0x7fffff;
	if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf, NaN
	const e = exp - 127 + 15; // rebiased exponent
	if (e >= 0x1f) return sign | 0x7c00; // too large: Infinity
	if (e <= 0) {
		// subnormal f16 (or zero): shift the mantissa with its implicit 1, rounding half to even
		if (e < -10) return sign;
		const m = mant | 0x800000;
		const shift = 14 - e;
		const half = m >>> shift;
		const rest = m & ((1 << shift) - 1);
		const mid = 1 << (shift - 1);
		return sign | (half + (rest > mid || (rest === mid && half & 1) ? 1 : 0));
	}
	const half = (e << 10) | (mant >>> 13);
	const rest = mant & 0x1fff;
	// carrying out of the mantissa bumps the exponent, as it should (up to Infinity)
	return sign | (half + (rest > 0x1000 || (rest === 0x1000 && half & 1) ? 1 : 0));
}

/**
 * A bfloat16 weight as float16 (for runtimes without a bfloat16 Cast, like onnxruntime-web's browser
 * build): exact for |x| in [2^-14, 65504] (bf16's 8-bit mantissa fits f16's 10), within 2^-25 below
 * that; a tensor with a value beyond f16's range is widened to f32 instead.
 */
export function bf16AsF16(w: { data: Uint16Array; shape: number[] }): Weight {
	const data = new Uint16Array(w.data.length);
	for (let i = 0; i < data.length; i++) {
		u32[0] = w.data[i] << 16;
		const h = floatToHalf(f32[0]);
		if ((h & 0x7c00) === 0x7c00 && Number.isFinite(f32[0])) return { data: bf16ToFloat32(w.data), shape: w.shape };
		data[i] = h;
	}
	return { data, shape: w.shape, dtype: 'float16' };
}

/** bfloat16 bits as f32 values: each is the top half of its f32. */
function bf16ToFloat32(half: Uint16Array): Float32Array {
	const out = new Float32Array(half.length);
	const bits = new Uint32Array(out.buffer);
	for (let i = 0; i < half.length; i++) bits[i] = half[i] << 16;
	return out;
}
