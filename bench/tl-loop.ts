// The TransformerLens-style PyTorch loop (models/train/bench_tl_loop.py) as a baseline measured in the
// same `npm run bench`: the model's weights go to a temporary safetensors file and the prompt ids to a
// JSON file the script reads, so both sides scan the very same model and prompts.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PromptSet } from '../src/lib/core/experiments/prompts';
import type { ModelLike } from '../src/lib/core/runtime/engine';

export interface TlLoopResult {
	/** logprob drop per head, [L*H], and per MLP layer, [L]. */
	heads: number[];
	mlps: number[];
	clean_logprob: number;
	/** The scan inside Python: clean run + every ablated forward (no start-up, no weight loading). */
	wall_s: number;
	forwards: number;
	threads: number;
	torch: string;
	/** Best f32 GFLOP/s of a 2048³ torch matmul on the same threads. */
	gemm_gflops?: number;
}

/** {name: f32 tensor} as a safetensors file (8-byte header length, JSON header, raw little-endian data). */
function writeSafetensors(path: string, weights: ModelLike['weights']): void {
	const header: Record<string, unknown> = {};
	let offset = 0;
	const names = [...weights.keys()].sort();
	for (const name of names) {
		const t = weights.get(name)!;
		header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + 4 * t.data.length] };
		offset += 4 * t.data.length;
	}
	let head = Buffer.from(JSON.stringify(header));
	head = Buffer.concat([head, Buffer.alloc(-head.length & 7, 0x20)]);
	const out = Buffer.allocUnsafe(8 + head.length + offset);
	out.writeBigUInt64LE(BigInt(head.length), 0);
	head.copy(out, 8);
	let at = 8 + head.length;
	for (const name of names) {
		const d = weights.get(name)!.data as Float32Array;
		Buffer.from(d.buffer, d.byteOffset, d.byteLength).copy(out, at);
		at += d.byteLength;
	}
	writeFileSync(path, out);
}

/** Runs the loop on `model` and `set` (prompts of one length), heads and (with `mlps`) MLP layers. */
export function tlLoop(model: ModelLike, set: PromptSet, mlps: boolean, threads = 2): TlLoopResult {
	const dir = mkdtempSync(join(tmpdir(), 'arithlens-tl-'));
	try {
		writeSafetensors(join(dir, 'weights.safetensors'), model.weights);
		const prompts = set.prompts.map((p) => ({ prompt: p.prompt, answer: p.answer }));
		writeFileSync(join(dir, 'prompts.json'), JSON.stringify({ spec: model.spec, prompts, mlps }));
		const script = join(import.meta.dirname, '../models/train/bench_tl_loop.py');
		execFileSync('/usr/bin/python3', [script, join(dir, 'weights.safetensors'), join(dir, 'prompts.json'), join(dir, 'out.json'), '--threads', String(threads), '--gemm-peak'], {
			stdio: ['ignore', 'inherit', 'inherit'],
			env: { ...process.env, OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads) }
		});
		return JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8')) as TlLoopResult;
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
}
