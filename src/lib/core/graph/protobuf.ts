// The protobuf wire format, as much of it as an ONNX ModelProto needs: a message is a list of
// fields, sized first and then written once into a buffer of exactly that size, so a weight's bytes
// are copied once, straight into the model. Written here rather than taken from a generated library
// (onnx-proto + protobufjs are ~100 KB of the worker bundle for five field kinds; the tests decode
// our bytes with onnx-proto and check that it re-encodes them to the same bytes).

/** One field: number, kind and value. Repeated fields are repeated entries (packed: one entry). */
export type Field =
	/** varint: int32/int64/enum (negative numbers take ten bytes, as two's-complement int64) */
	| readonly [no: number, kind: 'varint', value: number]
	/** 32-bit float */
	| readonly [no: number, kind: 'float', value: number]
	/** UTF-8 string */
	| readonly [no: number, kind: 'string', value: string]
	| readonly [no: number, kind: 'bytes', value: Uint8Array]
	| readonly [no: number, kind: 'message', value: Message]
	/** packed repeated varints; written only when non-empty */
	| readonly [no: number, kind: 'packed', value: readonly number[]];

export type Message = readonly Field[];

const WIRE = { varint: 0, float: 5, string: 2, bytes: 2, message: 2, packed: 2 } as const;

const utf8 = new TextEncoder();

function varintSize(v: number): number {
	if (v < 0) return 10;
	let n = 1;
	while (v >= 128) {
		v = Math.floor(v / 128);
		n++;
	}
	return n;
}

/** Sizes of every message and encoded string, computed once before writing. */
class Plan {
	readonly sizes = new Map<Message, number>();
	readonly strings = new Map<string, Uint8Array>();

	text(s: string): Uint8Array {
		let b = this.strings.get(s);
		if (!b) this.strings.set(s, (b = utf8.encode(s)));
		return b;
	}

	/** Bytes of a field's payload after its tag (a length-delimited payload without its length). */
	payload(f: Field): number {
		switch (f[1]) {
			case 'varint':
				return varintSize(f[2]);
			case 'float':
				return 4;
			case 'string':
				return this.text(f[2]).length;
			case 'bytes':
				return f[2].length;
			case 'message':
				return this.message(f[2]);
			case 'packed':
				return f[2].reduce((n, v) => n + varintSize(v), 0);
		}
	}

	field(f: Field): number {
		if (f[1] === 'packed' && f[2].length === 0) return 0;
		const n = this.payload(f);
		return varintSize(f[0] * 8) + (WIRE[f[1]] === 2 ? varintSize(n) + n : n);
	}

	message(m: Message): number {
		let n = this.sizes.get(m);
		if (n === undefined) {
			n = m.reduce((s, f) => s + this.field(f), 0);
			this.sizes.set(m, n);
		}
		return n;
	}
}

class Writer {
	pos = 0;
	private readonly view: DataView;
	constructor(
		readonly out: Uint8Array,
		private readonly plan: Plan
	) {
		this.view = new DataView(out.buffer, out.byteOffset, out.byteLength);
	}

	varint(v: number): void {
		if (v < 0) {
			// two's complement over 64 bits: ten bytes, the last holding bit 63
			let b = BigInt.asUintN(64, BigInt(v));
			for (let i = 0; i < 9; i++, b >>= 7n) this.out[this.pos++] = Number(b & 0x7fn) | 0x80;
			this.out[this.pos++] = Number(b);
			return;
		}
		while (v >= 128) {
			this.out[this.pos++] = (v % 128) | 0x80;
			v = Math.floor(v / 128);
		}
		this.out[this.pos++] = v;
	}

	bytes(b: Uint8Array): void {
		this.varint(b.length);
		this.out.set(b, this.pos);
		this.pos += b.length;
	}

	field(f: Field): void {
		if (f[1] === 'packed' && f[2].length === 0) return;
		this.varint(f[0] * 8 + WIRE[f[1]]);
		switch (f[1]) {
			case 'varint':
				return this.varint(f[2]);
			case 'float':
				this.view.setFloat32(this.pos, f[2], true);
				this.pos += 4;
				return;
			case 'string':
				return this.bytes(this.plan.text(f[2]));
			case 'bytes':
				return this.bytes(f[2]);
			case 'message':
				this.varint(this.plan.message(f[2]));
				return this.message(f[2]);
			case 'packed':
				this.varint(this.plan.payload(f));
				for (const v of f[2]) this.varint(v);
		}
	}

	message(m: Message): void {
		for (const f of m) this.field(f);
	}
}

/** The message's wire bytes, in one buffer of exactly their size. */
export function encodeMessage(m: Message): Uint8Array {
	const plan = new Plan();
	const w = new Writer(new Uint8Array(plan.message(m)), plan);
	w.message(m);
	if (w.pos !== w.out.length) throw new Error(`protobuf: wrote ${w.pos} of ${w.out.length} planned bytes`);
	return w.out;
}
