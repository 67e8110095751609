// Row-major reshuffles the checkpoint name maps need (reshape, permute, narrow) and the reader they
// pull stored tensors through, which checks each tensor's name and shape before it is used.
import { ModelLoadError } from '../errors';
import { numel, type Tensor } from '../tensor';

/** Stored tensors by checkpoint name; `get` converts to f32 and checks the expected shape. */
export interface CheckpointReader {
	has(name: string): boolean;
	names(): string[];
	get(name: string, shape: number[]): Tensor;
}

export function reshape(t: Tensor, shape: number[]): Tensor {
	if (numel(shape) !== t.data.length) throw new ModelLoadError('model.safetensors', `cannot reshape [${t.shape}] to [${shape}]`);
	return { data: t.data, shape };
}

/** out[i_perm[0], i_perm[1], ...] = t[i_0, i_1, ...], like torch.permute. */
export function permute(t: Tensor, perm: number[]): Tensor {
	const shape = perm.map((p) => t.shape[p]);
	const inStrides = strides(t.shape);
	const stridesOut = perm.map((p) => inStrides[p]); // input stride of each output axis
	const out = new Float32Array(t.data.length);
	const idx = new Array(shape.length).fill(0);
	for (let o = 0; o < out.length; o++) {
		let src = 0;
		for (let a = 0; a < shape.length; a++) src += idx[a] * stridesOut[a];
		out[o] = t.data[src];
		for (let a = shape.length - 1; a >= 0 && ++idx[a] === shape[a]; a--) idx[a] = 0;
	}
	return { data: out, shape };
}

export const transpose = (t: Tensor): Tensor => permute(t, [1, 0]);

/** t[..., start:start+length, ...] along `dim`, like torch.narrow (copied). */
export function narrow(t: Tensor, dim: number, start: number, length: number): Tensor {
	const outer = numel(t.shape.slice(0, dim));
	const inner = numel(t.shape.slice(dim + 1));
	const shape = t.shape.map((d, i) => (i === dim ? length : d));
	const out = new Float32Array(numel(shape));
	for (let o = 0; o < outer; o++) {
		const from = (o * t.shape[dim] + start) * inner;
		out.set(t.data.subarray(from, from + length * inner), o * length * inner);
	}
	return { data: out, shape };
}

function strides(shape: number[]): number[] {
	const s = new Array(shape.length).fill(1);
	for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
	return s;
}
