// Row-major reshuffles the checkpoint name maps need (reshape, permute, narrow) and the reader they
// pull stored tensors through, which checks each tensor's name and shape before it is used.
import { ModelLoadError } from '../errors';
import { numel, type Weight } from '../tensor';

/** Stored tensors by checkpoint name; `get` checks the expected shape and gives f32 or half precision (LoadOptions.dtype). */
export interface CheckpointReader {
	has(name: string): boolean;
	names(): string[];
	get(name: string, shape: number[]): Weight;
}

/** A fresh array of `n` elements of the same kind as `t`'s (these reshuffles keep a half weight half). */
const alike = <W extends Weight>(t: W, n: number): W['data'] =>
	t.data instanceof Float32Array ? new Float32Array(n) : new Uint16Array(n);

export function reshape<W extends Weight>(t: W, shape: number[]): W {
	if (numel(shape) !== t.data.length) throw new ModelLoadError('model.safetensors', `cannot reshape [${t.shape}] to [${shape}]`);
	return { ...t, data: t.data, shape };
}

/** out[i_perm[0], i_perm[1], ...] = t[i_0, i_1, ...], like torch.permute. */
export function permute<W extends Weight>(t: W, perm: number[]): W {
	const shape = perm.map((p) => t.shape[p]);
	const n = perm.length;
	if (n >= 2 && perm[n - 2] === n - 1 && perm[n - 1] === n - 2 && perm.slice(0, -2).every((p, i) => p === i))
		return { ...t, data: swapLastTwo(t, t.shape[n - 2], t.shape[n - 1]), shape };
	const inStrides = strides(t.shape);
	const stridesOut = perm.map((p) => inStrides[p]); // input stride of each output axis
	const out = alike(t, t.data.length);
	const idx = new Array(shape.length).fill(0);
	for (let o = 0; o < out.length; o++) {
		let src = 0;
		for (let a = 0; a < shape.length; a++) src += idx[a] * stridesOut[a];
		out[o] = t.data[src];
		for (let a = shape.length - 1; a >= 0 && ++idx[a] === shape[a]; a--) idx[a] = 0;
	}
	return { ...t, data: out, shape };
}

/**
 * The transpose of each [rows, cols] matrix in t, in tiles so that reads and writes both stay in
 * cache: the general permute loop took ~15 s for Qwen2.5-0.5B's 400M transposed weights.
 */
function swapLastTwo<W extends Weight>(t: W, rows: number, cols: number): W['data'] {
	const out = alike(t, t.data.length);
	const src = t.data;
	const TILE = 32;
	for (let base = 0; base < src.length; base += rows * cols)
		for (let r0 = 0; r0 < rows; r0 += TILE)
			for (let c0 = 0; c0 < cols; c0 += TILE) {
				const r1 = Math.min(rows, r0 + TILE);
				const c1 = Math.min(cols, c0 + TILE);
				for (let r = r0; r < r1; r++) {
					const from = base + r * cols;
					for (let c = c0; c < c1; c++) out[base + c * rows + r] = src[from + c];
				}
			}
	return out;
}

export const transpose = <W extends Weight>(t: W): W => permute(t, [1, 0]);

/** t[..., start:start+length, ...] along `dim`, like torch.narrow (copied). */
export function narrow<W extends Weight>(t: W, dim: number, start: number, length: number): W {
	const outer = numel(t.shape.slice(0, dim));
	const inner = numel(t.shape.slice(dim + 1));
	const shape = t.shape.map((d, i) => (i === dim ? length : d));
	const out = alike(t, numel(shape));
	for (let o = 0; o < outer; o++) {
		const from = (o * t.shape[dim] + start) * inner;
		out.set(t.data.subarray(from, from + length * inner), o * length * inner);
	}
	return { ...t, data: out, shape };
}

function strides(shape: number[]): number[] {
	const s = new Array(shape.length).fill(1);
	for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
	return s;
}
