// Minimal ONNX graph writer over onnx-proto: named values, initializers, typed inputs/outputs, and
// the handful of operators the transformer forward needs. Produces serialized ModelProto bytes.
import onnxProto from 'onnx-proto';
import type { onnx as P } from 'onnx-proto';

const { onnx } = onnxProto;

/** Opset 17: has LayerNormalization, keeps ReduceMean's axes as an attribute; ORT 1.30 loads it everywhere (DESIGN §9). */
export const OPSET = 17;
const IR_VERSION = 8;

export type ElemType = 'float32' | 'int64' | 'bool';
const ELEM: Record<ElemType, number> = {
	float32: onnx.TensorProto.DataType.FLOAT,
	int64: onnx.TensorProto.DataType.INT64,
	bool: onnx.TensorProto.DataType.BOOL
};

/** A dimension: a fixed size, or a symbolic name (dimParam) for the dynamic batch / sequence axes. */
export type Dim = number | string;

/** Attribute values: integer → INT, integer[] → INTS, float(x) → FLOAT. */
export type Attr = number | number[] | { float: number };
export const float = (x: number): { float: number } => ({ float: x });

function attribute(name: string, v: Attr): P.IAttributeProto {
	const T = onnx.AttributeProto.AttributeType;
	if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
	if (typeof v === 'number') {
		if (!Number.isInteger(v)) throw new TypeError(`attribute ${name}: ${v} is not an integer; wrap floats in float()`);
		return { name, type: T.INT, i: v };
	}
	return { name, type: T.FLOAT, f: v.float };
}

function valueInfo(name: string, elem: ElemType, dims: Dim[]): P.IValueInfoProto {
	return {
		name,
		type: {
			tensorType: {
				elemType: ELEM[elem],
				shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) }
			}
		}
	};
}

const bytesOf = (a: Float32Array | BigInt64Array | Uint8Array): Uint8Array =>
	new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Builds one graph. Every method returns the name of the value it produced, so forwards read as expressions. */
export class GraphWriter {
	private readonly nodes: P.INodeProto[] = [];
	private readonly initializers: P.ITensorProto[] = [];
	private readonly inputs: P.IValueInfoProto[] = [];
	private readonly outputs: P.IValueInfoProto[] = [];
	private readonly constants = new Map<string, string>();
	private counter = 0;

	/** A fresh value name; `hint` keeps the graph readable in Netron. */
	fresh(hint: string): string {
		return `${hint}#${this.counter++}`;
	}

	input(name: string, elem: ElemType, dims: Dim[]): string {
		this.inputs.push(valueInfo(name, elem, dims));
		return name;
	}

	output(name: string, elem: ElemType, dims: Dim[]): void {
		this.outputs.push(valueInfo(name, elem, dims));
	}

	/** A named float32 weight (row-major `data` of shape `dims`). */
	weight(name: string, data: Float32Array, dims: number[]): string {
		this.initializers.push({ name, dataType: ELEM.float32, dims, rawData: bytesOf(data) });
		return name;
	}

	/** A small float32 constant, deduplicated by value. */
	f32(values: number[] | Float32Array, dims: number[] = []): string {
		return this.constant('float32', Float32Array.from(values), dims);
	}

	/** A small int64 constant (shapes, axes, indices), deduplicated by value. */
	i64(values: number[], dims: number[] = [values.length]): string {
		return this.constant('int64', BigInt64Array.from(values.map(BigInt)), dims);
	}

	private constant(elem: 'float32' | 'int64', data: Float32Array | BigInt64Array, dims: number[]): string {
		const key = `${elem}[${dims}]${Array.from(data as ArrayLike<number | bigint>).join(',')}`;
		let name = this.constants.get(key);
		if (!name) {
			name = `const#${this.constants.size}`;
			this.initializers.push({ name, dataType: ELEM[elem], dims, rawData: bytesOf(data) });
			this.constants.set(key, name);
		}
		return name;
	}

	/** Adds one node with a single output, named `out` (or a fresh name from the op type). */
	op(type: string, inputs: string[], attrs: Record<string, Attr> = {}, out?: string): string {
		const output = out ?? this.fresh(type);
		this.nodes.push({
			opType: type,
			name: `${type}@${output}`,
			input: inputs,
			output: [output],
			attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v))
		});
		return output;
	}

	// -- the operators the forward uses, as expressions ---------------------------------------
	add = (a: string, b: string, out?: string) => this.op('Add', [a, b], {}, out);
	sub = (a: string, b: string, out?: string) => this.op('Sub', [a, b], {}, out);
	mul = (a: string, b: string, out?: string) => this.op('Mul', [a, b], {}, out);
	div = (a: string, b: string, out?: string) => this.op('Div', [a, b], {}, out);
	matmul = (a: string, b: string, out?: string) => this.op('MatMul', [a, b], {}, out);
	transpose = (x: string, perm: number[], out?: string) => this.op('Transpose', [x], { perm }, out);
	/** Reshape; a 0 in `dims` copies that input dimension (keeps dynamic B, T). */
	reshape = (x: string, dims: number[], out?: string) => this.op('Reshape', [x, this.i64(dims)], {}, out);
	unsqueeze = (x: string, axes: number[], out?: string) => this.op('Unsqueeze', [x, this.i64(axes)], {}, out);
	/** Gather with a scalar index drops `axis`. */
	pick = (x: string, index: number, axis: number, out?: string) =>
		this.op('Gather', [x, this.i64([index], [])], { axis }, out);
	/** x[start:end] along `axis`; `end` may be a value name (dynamic length, int64 [1]). */
	slice = (x: string, start: number, end: number | string, axis: number, out?: string) =>
		this.op('Slice', [x, this.i64([start]), typeof end === 'number' ? this.i64([end]) : end, this.i64([axis])], {}, out);
	identity = (x: string, out: string) => this.op('Identity', [x], {}, out);
	/** The intervention blend of DESIGN §4: m * x + (1 - m) * r (m = 1 keeps the clean value). */
	blend = (m: string, x: string, r: string, out?: string) =>
		this.add(this.mul(m, x), this.mul(this.sub(this.f32([1]), m), r), out);

	/** Serialized ModelProto. */
	encode(docString = ''): Uint8Array {
		const model = onnx.ModelProto.create({
			irVersion: IR_VERSION,
			opsetImport: [{ domain: '', version: OPSET }],
			producerName: 'arithlens',
			docString,
			graph: {
				name: 'arithlens',
				node: this.nodes,
				initializer: this.initializers,
				input: this.inputs,
				output: this.outputs
			}
		});
		return onnx.ModelProto.encode(model).finish();
	}
}
