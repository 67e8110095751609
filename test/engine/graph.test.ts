// The graph builder's contract, read back from the ONNX bytes: only requested hooks become outputs
// (with dynamic B/T dims), intervention inputs exist only when asked for, scoring graphs return scores
// in place of logits, and bad weights are refused.
import onnxProto from 'onnx-proto';
import { beforeAll, describe, expect, it } from 'vitest';
import { folderSource } from '../../src/cli/node-source';
import { buildGraph } from '../../src/lib/core/graph';
import { loadModel, type LoadedModel } from '../../src/lib/core/model/index';
import { fixtureNames, readFixture } from './fixtures';
import { encodeMessage } from '../../src/lib/core/graph/protobuf';

const { onnx } = onnxProto;

/** name -> dims as written (numbers, or dimParam strings). */
function signature(bytes: Uint8Array) {
	const model = onnx.ModelProto.decode(bytes);
	const dims = (v: onnxProto.onnx.IValueInfoProto) =>
		v.type!.tensorType!.shape!.dim!.map((d) => (d.dimParam ? d.dimParam : Number(d.dimValue)));
	return {
		opset: Number(model.opsetImport[0].version),
		inputs: Object.fromEntries(model.graph!.input!.map((v) => [v.name, dims(v)])),
		outputs: Object.fromEntries(model.graph!.output!.map((v) => [v.name, dims(v)]))
	};
}

let gpt2: LoadedModel;
let attnOnly: LoadedModel;
beforeAll(async () => {
	gpt2 = await loadModel(folderSource(readFixture('tiny-gpt2').modelDir));
	attnOnly = await loadModel(folderSource(readFixture('tl-lnpre-attn-only').modelDir));
});

describe('buildGraph', () => {
	it('has only tokens in and logits out by default, with dynamic batch and length', () => {
		const sig = signature(buildGraph(gpt2.spec, gpt2.weights));
		expect(sig.opset).toBeLessThanOrEqual(20);
		expect(sig.inputs).toEqual({ tokens: ['B', 'T'] });
		expect(sig.outputs).toEqual({ logits: ['B', 'T', 21] });
	});

	it('adds exactly the requested hooks as outputs, shaped as DESIGN §3', () => {
		const hooks = ['blocks.1.attn.hook_pattern', 'blocks.0.attn.hook_result', 'blocks.0.mlp.hook_post', 'hook_pos_embed'] as const;
		const sig = signature(buildGraph(gpt2.spec, gpt2.weights, { hooks }));
		expect(sig.outputs).toEqual({
			hook_pos_embed: ['B', 'T', 16],
			'blocks.0.attn.hook_result': ['B', 'T', 4, 16],
			'blocks.0.mlp.hook_post': ['B', 'T', 32],
			'blocks.1.attn.hook_pattern': ['B', 4, 'T', 'T'],
			logits: ['B', 'T', 21]
		});
	});

	it('declares intervention inputs only for the kinds asked for', () => {
		const head = signature(buildGraph(gpt2.spec, gpt2.weights, { heads: 'head', mlps: 'neuron' }));
		expect(head.inputs).toEqual({
			tokens: ['B', 'T'],
			head_mask: ['B', 2, 4],
			head_repl: ['B', 2, 4, 'T', 4],
			mlp_mask: ['B', 2, 32],
			mlp_repl: ['B', 2, 'T', 32]
		});
		const pos = signature(buildGraph(gpt2.spec, gpt2.weights, { heads: 'head_pos', mlps: 'layer', positions: 'gather' }));
		expect(pos.inputs).toMatchObject({ head_mask: ['B', 2, 4, 'T'], mlp_mask: ['B', 2], positions: ['B', 'P'] });
		expect(pos.outputs).toEqual({ logits: ['B', 'P', 21] });
	});

	it('scores in place of logits: targets in, log-normaliser, argmax and target logits out; logits only when asked', () => {
		const score = signature(buildGraph(gpt2.spec, gpt2.weights, { positions: 'gather', score: true, hooks: ['blocks.0.hook_resid_pre'] }));
		expect(score.inputs).toEqual({ tokens: ['B', 'T'], positions: ['B', 'P'], targets: ['B', 'P', 'K'] });
		expect(score.outputs).toEqual({
			'blocks.0.hook_resid_pre': ['B', 'T', 16],
			score_logsumexp: ['B', 'P'],
			score_argmax: ['B', 'P'],
			score_logits: ['B', 'P', 'K']
		});
		const both = signature(buildGraph(gpt2.spec, gpt2.weights, { positions: 'gather', score: true, logits: true }));
		expect(Object.keys(both.outputs).sort()).toEqual(['logits', 'score_argmax', 'score_logits', 'score_logsumexp']);
		expect(() => buildGraph(gpt2.spec, gpt2.weights, { score: true })).toThrow(/score needs positions 'gather'/);
	});

	it('refuses missing or misshapen weights, unknown hooks and MLP interventions without an MLP', () => {
		const missing = new Map(gpt2.weights);
		missing.delete('blocks.1.W_K');
		expect(() => buildGraph(gpt2.spec, missing)).toThrow(/missing weight 'blocks.1.W_K'/);
		const bad = new Map(gpt2.weights).set('W_E', { data: new Float32Array(4), shape: [2, 2] });
		expect(() => buildGraph(gpt2.spec, bad)).toThrow(/'W_E' has shape \[2,2\], expected \[21,16\]/);
		expect(() => buildGraph(gpt2.spec, gpt2.weights, { hooks: ['blocks.5.hook_resid_post'] })).toThrow(/not a hook point/);
		expect(() => buildGraph(attnOnly.spec, attnOnly.weights, { mlps: 'layer' })).toThrow(/attn_only/);
	});
});

describe('the ONNX wire format (graph/protobuf.ts)', () => {
	it('encodes varints, negative int64s, floats, strings and packed fields as protobuf does', () => {
		const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
		expect(hex(encodeMessage([[1, 'varint', 300]]))).toBe('08ac02');
		expect(hex(encodeMessage([[3, 'varint', -1]]))).toBe('18ffffffffffffffffff01');
		expect(hex(encodeMessage([[2, 'float', 1]]))).toBe('150000803f');
		expect(hex(encodeMessage([[1, 'string', 'é']]))).toBe('0a02c3a9');
		expect(hex(encodeMessage([[8, 'packed', [1, 2, 300]], [8, 'packed', []]]))).toBe('420401' + '02ac02');
		expect(hex(encodeMessage([[7, 'message', [[1, 'varint', 2 ** 40]]]]))).toBe('3a07' + '08' + '808080808020');
	});

	it.each(fixtureNames())('%s: onnx-proto decodes the graph and re-encodes it to the same bytes', async (name) => {
		const { spec, weights } = await loadModel(folderSource(readFixture(name).modelDir));
		const options = [{}, { hooks: ['blocks.0.attn.hook_pattern', 'logits'] as const, heads: 'head_pos' as const, positions: 'gather' as const, score: true }];
		for (const o of options) {
			const bytes = buildGraph(spec, weights, o);
			const model = onnx.ModelProto.decode(bytes);
			expect(model.graph!.initializer!.length).toBeGreaterThan(0);
			expect(Buffer.from(onnx.ModelProto.encode(model).finish()).equals(Buffer.from(bytes))).toBe(true);
		}
	});
});

