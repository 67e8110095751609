// A dense float32 tensor: row-major data plus shape. The only tensor type core code passes around;
// onnxruntime tensors stay inside runtime/.

export interface Tensor {
	data: Float32Array;
	shape: number[];
}

export const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

export function tensor(data: Float32Array | number[], shape: number[]): Tensor {
	const d = data instanceof Float32Array ? data : Float32Array.from(data);
	if (d.length !== numel(shape)) throw new RangeError(`tensor: ${d.length} values for shape [${shape}]`);
	return { data: d, shape };
}

export const zeros = (shape: number[]): Tensor => ({ data: new Float32Array(numel(shape)), shape });
