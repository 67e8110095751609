// `npm run bench`: a full mean-ablation head scan of every shipped model present and of a
// GPT-2-small-shaped random model (12 layers × 12 heads, d 768, vocab 50257; 64 prompts of 8 tokens),
// batched (core/experiments) and the naive way (one full forward per head, logits everywhere), on
// onnxruntime-node in one process. Also the batched scan with savings turned off one after another,
// so each saving's share is measured. And the scan of the issue: every head and MLP layer of the
// GPT-2-small shape on 64 prompts of 12 tokens (BOS, 8 prompt, 3 answer), against the
// TransformerLens-style PyTorch loop (models/train/bench_tl_loop.py, same weights and ids, 2 threads)
// measured in the same run, with this machine's measured GEMM peak and the scan's FLOP limit
// (cost.ts minimalScanMacs / peak). Writes bench/results.json and prints a table.
// And Qwen2.5-0.5B's real config in BF16 (bench/full-size.ts): load, capture and a head scan with the peak RSS.
//   BENCH_PROMPTS=64  BENCH_MODELS=gpt2-small,add-3d,qwen2.5-0.5b  BENCH_VARIANTS=batched,naive,tl-loop,js-score,no-restart,no-gather
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { folderSource } from '../src/cli/node-source';
import { ablationScan } from '../src/lib/core/experiments/ablation';
import { maxOf } from '../src/lib/core/model/arrays';
import { encodePromptSet, type PromptSet } from '../src/lib/core/experiments/prompts';
import { ScanContext, type ScanOptions } from '../src/lib/core/experiments/scan';
import { loadModel } from '../src/lib/core/model/index';
import type { Tensor } from '../src/lib/core/model/tensor';
import type { Engine, ModelLike, RunOptions, ScoreRequest } from '../src/lib/core/runtime/engine';
import { createNodeEngine } from '../src/lib/core/runtime/node';
import { generatePrompts, parseTaskSpec } from '../src/lib/core/tasks/index';
import { minimalScanMacs } from '../src/lib/core/experiments/cost';
import { allHeads, allMlps } from '../src/lib/core/experiments/components';
import { firstLayer } from '../src/lib/core/experiments/scan';
import { naiveMeanHeadScan } from './naive';
import { ortGemmPeak } from './peak';
import { GPT2_SMALL, randomPromptSet, randomWeights } from './random-model';
import { tlLoop } from './tl-loop';
import { fullSizeBench, type FullSizeResult } from './full-size';

const GPT2_BOS = 50256;
const ROOT = join(import.meta.dirname, '..');
const N = Number(process.env.BENCH_PROMPTS ?? 64);
const only = process.env.BENCH_MODELS?.split(',');
const VARIANTS = {
	batched: { label: 'batched (all savings)', options: {} as ScanOptions },
	naive: { label: 'naive (one forward per head)', options: null },
	'tl-loop': { label: 'TransformerLens-style PyTorch loop', options: null },
	'js-score': { label: 'batched, scored in JavaScript', options: { score: false } as ScanOptions },
	'no-restart': { label: 'batched, no restarts, scored in JavaScript', options: { startLayers: 'none', score: false } as ScanOptions },
	'no-gather': { label: 'batched, no restarts, full logits', options: { startLayers: 'none', gather: false } as ScanOptions }
} as const;
type Variant = keyof typeof VARIANTS;
const chosenVariants = process.env.BENCH_VARIANTS?.split(',') as Variant[] | undefined;

interface Measured {
	variant: Variant;
	label: string;
	wall_s: number;
	cpu_s: number;
	/** Wall time inside engine.run, and of that, the first call of each graph variant (its build + first run). */
	engine_s: number;
	first_calls_s: number;
	forwards: number;
	rows: number;
	gflops: number;
	start_layers?: number[];
	/** max |score − batched score| over heads (logprob drop). */
	max_diff_vs_batched?: number;
	/** tl-loop: torch's best f32 GFLOP/s (2048³ matmul) on the loop's threads. */
	torch_gemm_gflops?: number;
}

interface Case {
	name: string;
	model: () => Promise<ModelLike>;
	prompts: (model: ModelLike & { tokenizer?: unknown }) => PromptSet;
	describe: string;
	/** Scan MLP layers too (scores: heads then MLPs). */
	mlps: boolean;
	/** Variants run unless BENCH_VARIANTS names others. */
	variants: Variant[];
}

function cases(): Case[] {
	const out: Case[] = [];
	const index = JSON.parse(readFileSync(join(ROOT, 'models/index.json'), 'utf8')) as { models: { id: string; task: string }[] };
	for (const { id, task } of index.models) {
		if (!existsSync(join(ROOT, 'models', id, 'config.json'))) continue;
		let tokenizer: Awaited<ReturnType<typeof loadModel>>['tokenizer'];
		out.push({
			name: id,
			describe: `${task}, ${N} prompts`,
			mlps: false,
			variants: ['batched', 'naive', 'js-score', 'no-restart', 'no-gather'],
			model: async () => {
				const m = await loadModel(folderSource(join(ROOT, 'models', id)));
				tokenizer = m.tokenizer;
				return m;
			},
			prompts: () => encodePromptSet(tokenizer, generatePrompts(parseTaskSpec(task), { n: N, seed: 0 }))
		});
	}
	out.push({
		name: 'gpt2-small (random)',
		describe: `12 layers × 12 heads, d 768, vocab 50257, ${N} prompts of 6 + 2 tokens`,
		model: async () => ({ spec: GPT2_SMALL, weights: randomWeights(GPT2_SMALL, 1) }),
		prompts: () => randomPromptSet(GPT2_SMALL, N, 6, 2, 2),
		mlps: false,
		variants: ['batched', 'naive', 'js-score', 'no-restart', 'no-gather']
	});
	out.push({
		name: 'gpt2-small-12tok (random)',
		describe: `12 layers × 12 heads + 12 MLPs, d 768, vocab 50257, ${N} prompts of 12 tokens (BOS, 8 prompt, 3 answer)`,
		model: async () => ({ spec: GPT2_SMALL, weights: randomWeights(GPT2_SMALL, 1) }),
		prompts: () => randomPromptSet(GPT2_SMALL, N, 8, 3, 3, GPT2_BOS),
		mlps: true,
		variants: ['batched', 'tl-loop']
	});
	return out.filter((c) => !only || only.some((o) => c.name.startsWith(o)));
}

function maxDiff(a: Tensor, b: Tensor): number {
	let m = 0;
	for (let i = 0; i < a.data.length; i++) m = Math.max(m, Math.abs(a.data[i] - b.data[i]));
	return m;
}

const status = (line: string) => process.stderr.isTTY && process.stderr.write(`\r\x1b[K${line}`);

async function measure(model: ModelLike, set: PromptSet, variant: Variant, mlps: boolean): Promise<{ m: Measured; scores: Tensor }> {
	const { label, options } = VARIANTS[variant];
	if (variant === 'tl-loop') {
		// a subprocess: its wall time is the scan inside Python (clean run + every ablated forward)
		const r = tlLoop(model, set, mlps);
		const m: Measured = { variant, label, wall_s: r.wall_s, cpu_s: NaN, engine_s: NaN, first_calls_s: NaN, forwards: r.forwards, rows: r.forwards * set.prompts.length, gflops: NaN, torch_gemm_gflops: r.gemm_gflops };
		return { m, scores: { data: Float32Array.from([...r.heads, ...r.mlps]), shape: [r.heads.length + r.mlps.length] } };
	}
	// a fresh engine per variant, with the default session limits: graph variants (sessions) a scan needs are built inside its timing
	const engine = await createNodeEngine(model);
	const timing = { engine: 0, first: 0 };
	const seen = new Set<string>();
	type Options = RunOptions & { score?: ScoreRequest };
	const run = engine.run.bind(engine) as (tokens: number[][], o: Options) => Promise<unknown>;
	engine.run = (async (tokens: number[][], o: Options = {}) => {
		const variant = JSON.stringify([o.start?.layer ?? 0, o.hooks?.length ?? 0, !!o.positions, !!o.score, Object.keys(o.interventions ?? {}).sort()]);
		const t = performance.now();
		const r = await run(tokens, o);
		const ms = performance.now() - t;
		timing.engine += ms;
		if (!seen.has(variant)) (seen.add(variant), (timing.first += ms));
		return r;
	}) as Engine['run'];
	try {
		const wall = performance.now();
		const cpu = process.cpuUsage();
		let scores: Tensor;
		let stats: Pick<Measured, 'forwards' | 'rows' | 'gflops' | 'start_layers'>;
		if (options === null) {
			if (mlps) throw new Error('the naive TypeScript scan does heads only');
			const r = await naiveMeanHeadScan(engine, set, (d, t) => status(`${label}: head ${d}/${t}`));
			scores = r.scores;
			stats = { forwards: r.forwards, rows: r.rows, gflops: r.flops / 1e9 };
		} else {
			const ctx = new ScanContext(engine, set);
			const r = await ablationScan(ctx, { ...options, method: 'mean', mlps, onProgress: (p) => status(`${label}: ${p.stage} ${p.done}/${p.total}`) });
			const h = r.heads!.metrics.logprob!.data;
			scores = mlps ? { data: Float32Array.from([...h, ...r.mlps!.metrics.logprob!.data]), shape: [h.length + model.spec.n_layers] } : r.heads!.metrics.logprob!;
			stats = { forwards: ctx.stats.forwards, rows: ctx.stats.rows, gflops: ctx.stats.flops / 1e9, start_layers: ctx.stats.startLayers };
		}
		const used = process.cpuUsage(cpu);
		status('');
		const m = { variant, label, wall_s: (performance.now() - wall) / 1000, cpu_s: (used.user + used.system) / 1e6, engine_s: timing.engine / 1000, first_calls_s: timing.first / 1000, ...stats };
		return { m, scores };
	} finally {
		await engine.dispose();
	}
}

/** 2 × the multiply-adds a minimal mean-ablation scan of `set` needs (cost.ts minimalScanMacs). */
function minimalScanFlops(model: ModelLike, set: PromptSet, mlps: boolean): number {
	const s = model.spec;
	const components = [...allHeads(s), ...(mlps ? allMlps(s) : [])];
	const rows = components.flatMap((c) => set.prompts.map((p) => ({ T: p.prompt.length + p.answer.length - 1, P: p.answer.length, first: firstLayer(c) })));
	return 2 * minimalScanMacs(s, rows, set.prompts.map((p) => ({ T: p.prompt.length + p.answer.length, P: p.answer.length })));
}

const fmt = (x: number, d = 1) => (Number.isNaN(x) ? "" : x.toFixed(d));

async function main() {
	const results = [];
	const load = [loadavg()[0]];
	const peak = await ortGemmPeak();
	console.error(`onnxruntime-node f32 GEMM peak (2048³ MatMul, best of 5): ${fmt(peak)} GFLOP/s`);
	const limits: string[] = [];
	for (const c of cases()) {
		const model = await c.model();
		const set = c.prompts(model);
		const runs: Measured[] = [];
		let reference: Tensor | undefined;
		for (const v of chosenVariants ?? c.variants) {
			const { m, scores } = await measure(model, set, v, c.mlps);
			if (v === 'batched') reference = scores;
			else if (reference) m.max_diff_vs_batched = maxDiff(scores, reference);
			runs.push(m);
			console.error(`${c.name}: ${m.label}: ${fmt(m.wall_s)} s wall, ${fmt(m.cpu_s)} s cpu`);
		}
		const naive = runs.find((r) => r.variant === 'naive');
		const batched = runs.find((r) => r.variant === 'batched');
		const loop = runs.find((r) => r.variant === 'tl-loop');
		const minimal_gflop = minimalScanFlops(model, set, c.mlps) / 1e9;
		const flop_limit_s = minimal_gflop / peak;
		results.push({
			model: c.name,
			setup: c.describe,
			heads: model.spec.n_layers * model.spec.n_heads,
			mlps: c.mlps ? model.spec.n_layers : 0,
			runs,
			speedup_wall: naive && batched ? naive.wall_s / batched.wall_s : undefined,
			speedup_cpu: naive && batched ? naive.cpu_s / batched.cpu_s : undefined,
			speedup_vs_tl_loop: loop && batched ? loop.wall_s / batched.wall_s : undefined,
			minimal_gflop,
			flop_limit_s,
			batched_over_flop_limit: batched ? batched.wall_s / flop_limit_s : undefined
		});
		if (batched)
			limits.push(
				`${c.name}: ours ${fmt(batched.wall_s)} s` +
					(loop ? `, TransformerLens-style loop ${fmt(loop.wall_s)} s (torch GEMM peak ${fmt(loop.torch_gemm_gflops ?? NaN)} GFLOP/s), ${fmt(loop.wall_s / batched.wall_s, 2)}x faster, max |Δ score| ${loop.max_diff_vs_batched!.toExponential(1)}` : '') +
					`; FLOP limit ${fmt(minimal_gflop, 0)} GFLOP / ${fmt(peak)} GFLOP/s = ${fmt(flop_limit_s)} s, ours / limit = ${fmt(batched.wall_s / flop_limit_s, 2)}`
			);
		load.push(loadavg()[0]);
	}
	// the 0.5B model (BF16, cast at use): load, a capture and a head scan of 8 prompts in a child process
	let fullSize: FullSizeResult | undefined;
	if (!only || only.includes('qwen2.5-0.5b')) {
		fullSize = fullSizeBench();
		load.push(loadavg()[0]);
	}
	const ort = JSON.parse(readFileSync(join(ROOT, 'node_modules/onnxruntime-node/package.json'), 'utf8')).version;
	const report = {
		full_size: fullSize,
		date: new Date().toISOString(),
		machine: { cpu: cpus()[0]?.model, cores: cpus().length, node: process.version, onnxruntime_node: ort, load_average_1min: load, ort_gemm_gflops: peak },
		scan: 'mean ablation of every head (logprob drop); MLP layers too where a case says mlps > 0',
		results
	};
	writeFileSync(join(ROOT, 'bench/results.json'), JSON.stringify(report, null, 2) + '\n');

	const rows = results.flatMap((r) =>
		r.runs.map((m) => [
			r.model, m.label, fmt(m.wall_s), fmt(m.cpu_s), fmt(m.engine_s), fmt(m.first_calls_s), String(m.forwards), String(m.rows), fmt(m.gflops, 0),
			m.max_diff_vs_batched === undefined ? '' : m.max_diff_vs_batched.toExponential(1)
		])
	);
	const header = ['model', 'scan', 'wall s', 'cpu s', 'in engine s', 'first calls s', 'forwards', 'rows', 'GFLOP', 'max |Δ score|'];
	const widths = header.map((h, i) => maxOf(rows.map((r) => r[i].length), h.length));
	const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
	console.log(line(header));
	for (const r of rows) console.log(line(r));
	for (const r of results)
		if (r.speedup_wall) console.log(`${r.model}: batched is ${fmt(r.speedup_wall, 2)}x faster than naive (wall), ${fmt(r.speedup_cpu!, 2)}x (cpu)`);
	for (const l of limits) console.log(l);
	if (fullSize)
		console.log(
			`qwen2.5-0.5b (${(fullSize.params / 1e6).toFixed(0)}M params, ${fullSize.weights}): load ${fmt(fullSize.load_s)} s, capture ${fmt(fullSize.capture_s)} s, ` +
				`mean scan of ${fullSize.components} heads on ${fullSize.prompts} prompts ${fmt(fullSize.scan_s)} s; peak RSS ${fmt(fullSize.peak_rss_bytes / 1024 ** 3, 2)} GiB`
		);
	console.log(`load average (1 min) during the run: ${load.map((x) => fmt(x)).join(' → ')} on ${cpus().length} cores; wrote bench/results.json`);
}

await main();
