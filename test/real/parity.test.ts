// Real families on real configs and real tokenizers, with seeded random weights (./make-models.ts):
// each folder loads, our tokenizer gives the Rust oracle's ids for arithmetic prompts in several
// formats, and the ONNX engine's logits on those ids equal the PyTorch reference's
// (models/train/reference_logits.py, float64) to 1e-4, as the fixtures' parity tests require.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { folderSource } from '../../src/cli/node-source';
import { loadModel, type LoadedModel } from '../../src/lib/core/model/index';
import { parseSafetensors, toFloat32 } from '../../src/lib/core/model/safetensors';
import type { Spec } from '../../src/lib/core/model/spec';
import type { Tensor } from '../../src/lib/core/model/tensor';
import { createNodeEngine } from '../../src/lib/core/runtime/node';
import { maxAbsDiff, ROOT } from '../engine/fixtures';
import { cachedRealModels, PYTHON, REAL_MODELS, type RealModelName } from './make-models';
import { oracle, realTokenizer } from './tokenizers';

const TOLERANCE = 1e-4;

/** Prompt + answer sequences, as scored jointly (DESIGN §5), in five formats. */
const TEXTS = ['12+34=46', '12 + 34 = 46', 'What is 127 plus 752? Answer: 879', '3+4=7\n12+5=17\n12+34=46', '0031+0047=00078', '499*5=2495'];

const NAMES = Object.keys(REAL_MODELS) as RealModelName[];

/** What each folder must load as: the real config's architecture at the shrunk sizes. */
const SPECS: Record<RealModelName, Partial<Spec>> = {
	gpt2: { family: 'gpt2', d_vocab: 50257, n_ctx: 1024, n_layers: 2, d_model: 64, n_heads: 4, d_mlp: 256, act: 'gelu_new', tied: true },
	'pythia-70m': { family: 'gpt_neox', d_vocab: 50304, n_ctx: 2048, n_heads: 4, d_head: 16, rotary_dim: 4, parallel: true, tied: false, act: 'gelu' },
	'llama-2-7b': { family: 'llama', d_vocab: 32000, n_ctx: 4096, n_heads: 4, n_kv_heads: 4, d_mlp: 172, eps: 1e-5, rotary_base: 10000, tied: false, qkv_bias: false },
	'llama-3-8b': { family: 'llama', d_vocab: 128256, n_ctx: 8192, n_heads: 4, n_kv_heads: 1, d_head: 16, rotary_base: 500000, tied: false },
	'qwen2.5-0.5b': { family: 'qwen2', d_vocab: 151936, n_ctx: 32768, n_heads: 7, n_kv_heads: 1, d_head: 8, rotary_base: 1e6, eps: 1e-6, tied: true, qkv_bias: true, o_bias: false }
};

let folders: Record<RealModelName, string>;
let work: string;
const tokens = {} as Record<RealModelName, number[][]>;
const reference = {} as Record<RealModelName, Tensor[]>;

beforeAll(async () => {
	const t0 = performance.now();
	folders = cachedRealModels();
	const t1 = performance.now();
	work = mkdtempSync(join(tmpdir(), 'arithlens-real-parity-'));
	const args: string[] = [];
	for (const name of NAMES) {
		const encode = oracle(realTokenizer(REAL_MODELS[name]).tokenizerJson);
		tokens[name] = await Promise.all(TEXTS.map((t) => encode(t, true)));
		writeFileSync(join(work, `${name}.json`), JSON.stringify({ tokens: tokens[name] }));
		args.push(folders[name], join(work, `${name}.json`), join(work, `${name}.safetensors`));
	}
	execFileSync(PYTHON, [join(ROOT, 'models/train/reference_logits.py'), ...args]);
	for (const name of NAMES) {
		const file = `${name}.safetensors`;
		const tensors = parseSafetensors(file, new Uint8Array(readFileSync(join(work, file))));
		reference[name] = TEXTS.map((_, i) => {
			const t = tensors.get(`logits.${i}`)!;
			return { data: toFloat32(file, `logits.${i}`, t), shape: t.shape };
		});
	}
	console.log(`real models ready in ${((t1 - t0) / 1000).toFixed(1)} s, reference logits in ${((performance.now() - t1) / 1000).toFixed(1)} s`);
});

afterAll(() => work && rmSync(work, { recursive: true, force: true }));

describe.each(NAMES)('%s', (name) => {
	let model: LoadedModel;
	beforeAll(async () => {
		model = await loadModel(folderSource(folders[name]));
	});

	it('loads the real config at its shrunk sizes', () => {
		expect(model.spec).toMatchObject(SPECS[name]);
	});

	it('tokenizes every text as the Rust oracle does', () => {
		expect(TEXTS.map((t) => model.tokenizer.encode(t))).toEqual(tokens[name]);
	});

	it('gives the reference logits on the oracle ids', async () => {
		const engine = await createNodeEngine(model);
		try {
			for (const [i, ids] of tokens[name].entries()) {
				const { logits } = await engine.run([ids]);
				const got = { data: logits.data, shape: logits.shape.slice(1) };
				const d = maxAbsDiff(got, reference[name][i]);
				console.log(`${name} ${JSON.stringify(TEXTS[i])} (${ids.length} tokens): max |diff| ${d.toExponential(2)}`);
				expect(d, `${name} text ${i}: max |diff| ${d}`).toBeLessThanOrEqual(TOLERANCE);
			}
		} finally {
			await engine.dispose();
		}
	});
});
