// `npm run bench`: a full mean-ablation head scan of every shipped model present and of a
// GPT-2-small-shaped random model (12 layers × 12 heads, d 768, vocab 50257; 64 prompts of 8 tokens),
// batched (core/experiments) and the naive way (one full forward per head, logits everywhere), on
// onnxruntime-node in one process. Also the batched scan with savings turned off one after another,
// so each saving's share is measured. Writes bench/results.json and prints a table.
//   BENCH_PROMPTS=64  BENCH_MODELS=gpt2-small,add-3d  BENCH_VARIANTS=batched,naive,js-score,no-restart,no-gather
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
import { naiveMeanHeadScan } from './naive';
import { GPT2_SMALL, randomPromptSet, randomWeights } from './random-model';

const ROOT = join(import.meta.dirname, '..');
const N = Number(process.env.BENCH_PROMPTS ?? 64);
const only = process.env.BENCH_MODELS?.split(',');
const VARIANTS = {
	batched: { label: 'batched (all savings)', options: {} as ScanOptions },
	naive: { label: 'naive (one forward per head)', options: null },
	'js-score': { label: 'batched, scored in JavaScript', options: { score: false } as ScanOptions },
	'no-restart': { label: 'batched, no restarts, scored in JavaScript', options: { startLayers: 'none', score: false } as ScanOptions },
	'no-gather': { label: 'batched, no restarts, full logits', options: { startLayers: 'none', gather: false } as ScanOptions }
} as const;
type Variant = keyof typeof VARIANTS;
const variants = (process.env.BENCH_VARIANTS?.split(',') ?? Object.keys(VARIANTS)) as Variant[];

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
}

interface Case {
	name: string;
	model: () => Promise<ModelLike>;
	prompts: (model: ModelLike & { tokenizer?: unknown }) => PromptSet;
	describe: string;
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
		prompts: () => randomPromptSet(GPT2_SMALL, N, 6, 2, 2)
	});
	return out.filter((c) => !only || only.some((o) => c.name.startsWith(o)));
}

function maxDiff(a: Tensor, b: Tensor): number {
	let m = 0;
	for (let i = 0; i < a.data.length; i++) m = Math.max(m, Math.abs(a.data[i] - b.data[i]));
	return m;
}

const status = (line: string) => process.stderr.isTTY && process.stderr.write(`\r\x1b[K${line}`);

async function measure(model: ModelLike, set: PromptSet, variant: Variant): Promise<{ m: Measured; scores: Tensor }> {
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
		const { label, options } = VARIANTS[variant];
		let scores: Tensor;
		let stats: Pick<Measured, 'forwards' | 'rows' | 'gflops' | 'start_layers'>;
		if (options === null) {
			const r = await naiveMeanHeadScan(engine, set, (d, t) => status(`${label}: head ${d}/${t}`));
			scores = r.scores;
			stats = { forwards: r.forwards, rows: r.rows, gflops: r.flops / 1e9 };
		} else {
			const ctx = new ScanContext(engine, set);
			const r = await ablationScan(ctx, { ...options, method: 'mean', mlps: false, onProgress: (p) => status(`${label}: ${p.stage} ${p.done}/${p.total}`) });
			scores = r.heads!.metrics.logprob!;
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

const fmt = (x: number, d = 1) => x.toFixed(d);

async function main() {
	const results = [];
	const load = [loadavg()[0]];
	for (const c of cases()) {
		const model = await c.model();
		const set = c.prompts(model);
		const runs: Measured[] = [];
		let reference: Tensor | undefined;
		for (const v of variants) {
			const { m, scores } = await measure(model, set, v);
			if (v === 'batched') reference = scores;
			else if (reference) m.max_diff_vs_batched = maxDiff(scores, reference);
			runs.push(m);
			console.error(`${c.name}: ${m.label}: ${fmt(m.wall_s)} s wall, ${fmt(m.cpu_s)} s cpu`);
		}
		const naive = runs.find((r) => r.variant === 'naive');
		const batched = runs.find((r) => r.variant === 'batched');
		results.push({
			model: c.name,
			setup: c.describe,
			heads: model.spec.n_layers * model.spec.n_heads,
			runs,
			speedup_wall: naive && batched ? naive.wall_s / batched.wall_s : undefined,
			speedup_cpu: naive && batched ? naive.cpu_s / batched.cpu_s : undefined
		});
		load.push(loadavg()[0]);
	}
	const ort = JSON.parse(readFileSync(join(ROOT, 'node_modules/onnxruntime-node/package.json'), 'utf8')).version;
	const report = {
		date: new Date().toISOString(),
		machine: { cpu: cpus()[0]?.model, cores: cpus().length, node: process.version, onnxruntime_node: ort, load_average_1min: load },
		scan: 'mean ablation of every head (logprob drop), MLPs not scanned',
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
	console.log(`load average (1 min) during the run: ${load.map((x) => fmt(x)).join(' → ')} on ${cpus().length} cores; wrote bench/results.json`);
}

await main();
