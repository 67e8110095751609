// The canonical weights are not just the right shapes but the right layout: each weight, applied to a
// hook the PyTorch reference captured, reproduces the next hook it captured (prompt 0, every hook).
// q/k/v check W_Q/W_K/W_V and their biases (GQA, NeoX interleaving, GPT-2 Conv1D blocks), hook_result
// checks W_O, attn_out b_O, MLP pre/post W_in/W_gate/W_out, logits the (tied or not) unembedding.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { folderSource } from '../../src/cli/node-source';
import { loadModel } from '../../src/lib/core/model/index';
import { parseSafetensors, toFloat32 } from '../../src/lib/core/model/safetensors';
import type { Spec } from '../../src/lib/core/model/spec';
import type { Tensor } from '../../src/lib/core/model/tensor';
import { FIXTURES, manifests, modelDir } from './fixtures';

function captures(name: string): Map<string, Tensor> {
	const file = `${name}.safetensors`;
	const raw = parseSafetensors(file, new Uint8Array(readFileSync(join(FIXTURES, file))));
	const out = new Map<string, Tensor>();
	for (const [n, t] of raw) if (n.startsWith('capture.0.')) out.set(n.slice('capture.0.'.length), { data: toFloat32(file, n, t), shape: t.shape });
	return out;
}

/** out[t, ...] = sum_d x[t, d] * W[h, d, e] (+ b[h, e]) for W [Hh, D, dh], or W [D, E] as one "head". */
function project(x: Tensor, W: Tensor, b?: Tensor): Float32Array {
	const [T, D] = x.shape;
	const [Hh, , E] = W.shape.length === 3 ? W.shape : [1, ...W.shape];
	const out = new Float32Array(T * Hh * E);
	for (let t = 0; t < T; t++)
		for (let h = 0; h < Hh; h++)
			for (let e = 0; e < E; e++) {
				let acc = b ? b.data[h * E + e] : 0;
				for (let d = 0; d < D; d++) acc += x.data[t * D + d] * W.data[(h * D + d) * E + e];
				out[(t * Hh + h) * E + e] = acc;
			}
	return out;
}

function norm(s: Spec, x: Tensor, w?: Tensor, b?: Tensor): Tensor {
	if (s.norm === 'None') return x;
	const [T, D] = x.shape;
	const out = new Float32Array(T * D);
	for (let t = 0; t < T; t++) {
		const row = x.data.subarray(t * D, (t + 1) * D);
		const mean = s.norm === 'RMS' ? 0 : row.reduce((a, v) => a + v, 0) / D;
		const ms = row.reduce((a, v) => a + (v - mean) ** 2, 0) / D;
		for (let d = 0; d < D; d++) out[t * D + d] = ((row[d] - mean) / Math.sqrt(ms + s.eps)) * (w ? w.data[d] : 1) + (b ? b.data[d] : 0);
	}
	return { data: out, shape: [T, D] };
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
	expect(a.length).toBe(b.length);
	let m = 0;
	for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
	return m;
};

describe('canonical weights reproduce the reference hooks', () => {
	for (const m of manifests().filter((m) => m.captures[0].hooks.includes('logits'))) {
		it(m.name, async () => {
			const { spec: s, weights } = await loadModel(folderSource(modelDir(m)), { precision: 'float32' });
			const cap = captures(m.name);
			// widened on load (precision float32), every weight is a float32 Tensor
			const w = (n: string) => weights.get(n) as Tensor | undefined;
			const hook = (n: string) => cap.get(n)!;
			const check = (what: string, got: ArrayLike<number>, want: Tensor) => {
				const diff = maxDiff(got, want.data);
				expect(diff, `${m.name} ${what}: max |diff| ${diff}`).toBeLessThan(1e-4);
			};
			const tokens = m.tokens[0];
			const { d_model: D } = s;
			const embed = new Float32Array(tokens.flatMap((id) => [...w('W_E')!.data.subarray(id * D, (id + 1) * D)]));
			check('W_E', embed, hook('hook_embed'));
			if (s.pos === 'standard') check('W_pos', w('W_pos')!.data.subarray(0, tokens.length * D), hook('hook_pos_embed'));
			for (let l = 0; l < s.n_layers; l++) {
				const p = `blocks.${l}.`;
				const h1 = norm(s, hook(p + 'hook_resid_pre'), w(p + 'ln1.w'), w(p + 'ln1.b'));
				for (const n of ['Q', 'K', 'V'])
					check(`${p}W_${n}`, project(h1, w(`${p}W_${n}`)!, w(`${p}b_${n}`)), hook(`${p}attn.hook_${n.toLowerCase()}`));
				// hook_result[t, h, :] = z[t, h, :] @ W_O[h]: view z as [T*H, dh] rows, one head each.
				const z = hook(p + 'attn.hook_z');
				const [T, H, dh] = z.shape;
				const result = new Float32Array(T * H * D);
				for (let t = 0; t < T; t++)
					for (let h = 0; h < H; h++) {
						const row = { data: z.data.subarray((t * H + h) * dh, (t * H + h + 1) * dh), shape: [1, dh] };
						const Wh = { data: w(p + 'W_O')!.data.subarray(h * dh * D, (h + 1) * dh * D), shape: [dh, D] };
						result.set(project(row, Wh), (t * H + h) * D);
					}
				check(`${p}W_O`, result, hook(p + 'attn.hook_result'));
				const attnOut = new Float32Array(T * D);
				for (let t = 0; t < T; t++)
					for (let d = 0; d < D; d++) {
						let acc = s.o_bias ? w(p + 'b_O')!.data[d] : 0;
						for (let h = 0; h < H; h++) acc += result[(t * H + h) * D + d];
						attnOut[t * D + d] = acc;
					}
				check(`${p}b_O`, attnOut, hook(p + 'hook_attn_out'));
				if (s.attn_only) continue;
				const h2 = norm(s, hook(p + (s.parallel ? 'hook_resid_pre' : 'hook_resid_mid')), w(p + 'ln2.w'), w(p + 'ln2.b'));
				if (s.gated) {
					check(`${p}W_gate`, project(h2, w(p + 'W_gate')!), hook(p + 'mlp.hook_pre'));
					check(`${p}W_in`, project(h2, w(p + 'W_in')!, w(p + 'b_in')), hook(p + 'mlp.hook_pre_linear'));
				} else check(`${p}W_in`, project(h2, w(p + 'W_in')!, w(p + 'b_in')), hook(p + 'mlp.hook_pre'));
				check(`${p}W_out`, project(hook(p + 'mlp.hook_post'), w(p + 'W_out')!, w(p + 'b_out')), hook(p + 'hook_mlp_out'));
			}
			const WU = s.tied ? { data: transpose2(w('W_E')!), shape: [D, s.d_vocab] } : w('W_U')!;
			check('unembed', project(hook('ln_final.hook_normalized'), WU, w('b_U')), hook('logits'));
		});
	}
});

function transpose2(t: Tensor): Float32Array {
	const [R, C] = t.shape;
	const out = new Float32Array(R * C);
	for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) out[c * R + r] = t.data[r * C + c];
	return out;
}
