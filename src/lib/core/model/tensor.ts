// A dense float32 tensor: row-major data plus shape. The only tensor type core code passes around;
// onnxruntime tensors stay inside runtime/.

export interface Tensor {
	data: Float32Array;
	shape: number[];
}

/** Half-precision storage formats: IEEE float16, and bfloat16 (the top half of a float32). */
export type HalfDtype = 'float16' | 'bfloat16';

/** A weight kept at half precision as loaded (F16/BF16 checkpoints): the raw 16-bit patterns, row-major. */
export interface HalfTensor {
	data: Uint16Array;
	shape: number[];
	dtype: HalfDtype;
}

/** A model weight: float32, or half precision that the graph casts where it is used. */
export type Weight = Tensor | HalfTensor;

export const isHalf = (w: Weight): w is HalfTensor => 'dtype' in w;

/** The ONNX element type a weight is stored as. */
export const weightDtype = (w: Weight): 'float32' | HalfDtype => (isHalf(w) ? w.dtype : 'float32');

export const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

export function tensor(data: Float32Array | number[], shape: number[]): Tensor {
	const d = data instanceof Float32Array ? data : Float32Array.from(data);
	if (d.length !== numel(shape)) throw new RangeError(`tensor: ${d.length} values for shape [${shape}]`);
	return { data: d, shape };
}

export const zeros = (shape: number[]): Tensor => ({ data: new Float32Array(numel(shape)), shape });
