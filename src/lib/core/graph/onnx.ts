// Minimal ONNX graph writer: named values, initializers, typed inputs/outputs, and the handful of
// operators the transformer forward needs. Produces serialized ModelProto bytes (field numbers of
// onnx.proto; the wire format is ./protobuf.ts).
import { encodeMessage, type Field, type Message } from './protobuf';

/** Opset 17: has LayerNormalization, keeps ReduceMean's axes as an attribute; ORT 1.30 loads it everywhere (DESIGN §9). */
const OPSET = 17;
const IR_VERSION = 8;

export type ElemType = 'float32' | 'int64' | 'bool' | 'float16' | 'bfloat16';
/** TensorProto.DataType */
const ELEM: Record<ElemType, number> = { float32: 1, int64: 7, bool: 9, float16: 10, bfloat16: 16 };

/** A weight's bytes kept outside the ModelProto (ONNX external data): onnxruntime gets them beside the model, under `path`. */
export interface ExternalFile {
	path: string;
	data: Uint8Array;
}

/** An encoded model: the ModelProto bytes and the external weight files its initializers point to. */
export interface EncodedModel {
	model: Uint8Array;
	externalData: ExternalFile[];
	/** Bytes of every initializer, inline or external: about what onnxruntime holds per session. */
	weightBytes: number;
	/** Of those, the bytes of half-precision initializers (each cast to float32 where it is used). */
	halfBytes: number;
}
/** AttributeProto.AttributeType */
const ATTR = { FLOAT: 1, INT: 2, INTS: 7 } as const;

/** A dimension: a fixed size, or a symbolic name (dimParam) for the dynamic batch / sequence axes. */
export type Dim = number | string;

/** Attribute values: integer → INT, integer[] → INTS, float(x) → FLOAT. */
export type Attr = number | number[] | { float: number };
export const float = (x: number): { float: number } => ({ float: x });

/** AttributeProto: name 1, f 2, i 3, ints 8, type 20. */
function attribute(name: string, v: Attr): Message {
	if (Array.isArray(v)) return [[1, 'string', name], [8, 'packed', v], [20, 'varint', ATTR.INTS]];
	if (typeof v === 'number') {
		if (!Number.isInteger(v)) throw new TypeError(`attribute ${name}: ${v} is not an integer; wrap floats in float()`);
		return [[1, 'string', name], [3, 'varint', v], [20, 'varint', ATTR.INT]];
	}
	return [[1, 'string', name], [2, 'float', v.float], [20, 'varint', ATTR.FLOAT]];
}

/** ValueInfoProto { name 1, type 2: TypeProto { tensor_type 1: { elem_type 1, shape 2: { dim 1: { dim_value 1 | dim_param 2 } } } } }. */
function valueInfo(name: string, elem: ElemType, dims: Dim[]): Message {
	const dim = dims.map((d): Field => [1, 'message', typeof d === 'number' ? [[1, 'varint', d]] : [[2, 'string', d]]]);
	return [
		[1, 'string', name],
		[2, 'message', [[1, 'message', [[1, 'varint', ELEM[elem]], [2, 'message', dim]]]]]
	];
}

/** TensorProto with its data inline: dims 1, data_type 2, name 8, raw_data 9. */
function tensor(name: string, elem: ElemType, dims: number[], raw: Uint8Array): Message {
	return [[1, 'packed', dims], [2, 'varint', ELEM[elem]], [8, 'string', name], [9, 'bytes', raw]];
}

/** TensorProto whose data is the whole of external file `path`: external_data 13 (location, offset, length), data_location 14 = EXTERNAL. */
function externalTensor(name: string, elem: ElemType, dims: number[], path: string, length: number): Message {
	const entry = (key: string, value: string): Field => [13, 'message', [[1, 'string', key], [2, 'string', value]]];
	return [[1, 'packed', dims], [2, 'varint', ELEM[elem]], [8, 'string', name], entry('location', path), entry('offset', '0'), entry('length', String(length)), [14, 'varint', 1]];
}

/** A weight or constant as the writer holds it until the model is encoded. */
interface Initializer {
	name: string;
	elem: ElemType;
	dims: number[];
	raw: Uint8Array;
}

const bytesOf = (a: Float32Array | BigInt64Array | Uint16Array | Uint8Array): Uint8Array =>
	new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Builds one graph. Every method returns the name of the value it produced, so forwards read as expressions. */
export class GraphWriter {
	private readonly nodes: Message[] = [];
	private readonly initializers: Initializer[] = [];
	private readonly inputs: Message[] = [];
	private readonly outputs: Message[] = [];
	private readonly constants = new Map<string, string>();
	private readonly weights = new Map<string, { elem: ElemType; dims: number[] }>();
	private readonly casts = new Map<string, string>();
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

	/**
	 * A named weight (row-major `data` of shape `dims`), registered as an initializer; use() gives its
	 * float32 value. A half-precision weight (float16 or bfloat16 bits) stays half in the model and is
	 * cast to float32 where it is used, so the model holds it at two bytes an element.
	 */
	weight(name: string, data: Float32Array | Uint16Array, dims: number[], elem: 'float32' | 'float16' | 'bfloat16' = 'float32'): void {
		if ((elem === 'float32') !== data instanceof Float32Array) throw new TypeError(`weight ${name}: ${elem} data must be a ${elem === 'float32' ? 'Float32Array' : 'Uint16Array'}`);
		if (this.weights.has(name)) throw new Error(`weight ${name}: registered twice`);
		this.weights.set(name, { elem, dims });
		this.initializers.push({ name: elem === 'float32' ? name : `${name}:${elem}`, elem, dims, raw: bytesOf(data) });
	}

	/**
	 * Half weights are cast after this value exists (when set): onnxruntime runs every node whose
	 * inputs are ready as early as it likes, so Casts of initializers alone all ran at the start and
	 * held every weight in f32 at once (a 0.5B model: 2 GB). Depending on the block's input, a block's
	 * weights are widened when the block starts and freed after it.
	 */
	castAfter: string | undefined;

	/** The float32 value of registered weight `name`: itself, or its Cast (one per castAfter value). */
	use(name: string): string {
		const w = this.weights.get(name);
		if (!w) throw new Error(`use: weight ${name} is not registered`);
		if (w.elem === 'float32') return name;
		const after = this.castAfter;
		const key = `${name}|${after ?? ''}`;
		let v = this.casts.get(key);
		if (v === undefined) {
			let half = `${name}:${w.elem}`;
			if (after !== undefined) {
				// Reshape to its own shape, plus 0 x (a size of `after`): a data dependency at no cost
				const zero = this.mul(this.op('Shape', [after], { start: 0, end: 1 }), this.i64([0]));
				half = this.op('Reshape', [half, this.op('Add', [zero, this.i64(w.dims)])]);
			}
			v = this.op('Cast', [half], { to: ELEM.float32 }, after === undefined ? name : undefined);
			this.casts.set(key, v);
		}
		return v;
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
			this.initializers.push({ name, elem, dims, raw: bytesOf(data) });
			this.constants.set(key, name);
		}
		return name;
	}

	/** Adds one node with a single output, named `out` (or a fresh name from the op type). */
	op(type: string, inputs: string[], attrs: Record<string, Attr> = {}, out?: string): string {
		const output = out ?? this.fresh(type);
		// NodeProto: input 1, output 2, name 3, op_type 4, attribute 5
		this.nodes.push([
			...inputs.map((i): Field => [1, 'string', i]),
			[2, 'string', output],
			[3, 'string', `${type}@${output}`],
			[4, 'string', type],
			...Object.entries(attrs).map(([k, v]): Field => [5, 'message', attribute(k, v)])
		]);
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

	/** Serialized ModelProto with every initializer inline (a protobuf holds at most 2 GiB). */
	encode(docString = ''): Uint8Array {
		return this.encodeModel(docString, Infinity).model;
	}

	/**
	 * The ModelProto with initializers of `externalAbove` bytes or more as external data, one file
	 * each (a view of the weight, not a copy): models over protobuf's 2 GiB limit build this way.
	 */
	encodeModel(docString: string, externalAbove: number): EncodedModel {
		const externalData: ExternalFile[] = [];
		let weightBytes = 0;
		let halfBytes = 0;
		const initializers = this.initializers.map((t): Message => {
			weightBytes += t.raw.length;
			if (t.elem === 'float16' || t.elem === 'bfloat16') halfBytes += t.raw.length;
			if (t.raw.length < externalAbove) return tensor(t.name, t.elem, t.dims, t.raw);
			const path = `w${externalData.length}.bin`;
			externalData.push({ path, data: t.raw });
			return externalTensor(t.name, t.elem, t.dims, path, t.raw.length);
		});
		return { model: this.proto(docString, initializers), externalData, weightBytes, halfBytes };
	}

	/** ir_version 1, producer_name 2, doc_string 6, graph 7 (node 1, name 2, initializer 5, input 11, output 12), opset_import 8. */
	private proto(docString: string, initializers: Message[]): Uint8Array {
		const many = (no: number, ms: Message[]) => ms.map((m): Field => [no, 'message', m]);
		const graph: Message = [
			...many(1, this.nodes),
			[2, 'string', 'arithlens'],
			...many(5, initializers),
			...many(11, this.inputs),
			...many(12, this.outputs)
		];
		return encodeMessage([
			[1, 'varint', IR_VERSION],
			[2, 'string', 'arithlens'],
			[6, 'string', docString],
			[7, 'message', graph],
			[8, 'message', [[1, 'string', ''], [2, 'varint', OPSET]]]
		]);
	}
}
