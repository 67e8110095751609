// Where a scan's time goes (`npx tsx bench/profile.ts`, BENCH_PROMPTS=64): the GPT-2-small-shaped
// random model, 64 prompts of 12 tokens (BOS, 8 prompt, 3 answer), the graphs the mean-ablation scan
// of every head and MLP builds. For each restart block the scan uses: time to build the ONNX bytes,
// to create the onnxruntime session (engine defaults), and, with onnxruntime's profiler on, one batch
// of the planned size run twice, the second one's kernel time summed by op type (GEMM-like ops
// vs the rest), beside the time the run took in all (the gap: feeding, copies, scheduling).
import * as ort from 'onnxruntime-node';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { batchSize } from '../src/lib/core/experiments/batches';
import { buildGraph, INPUTS } from '../src/lib/core/graph';
import { GPT2_SMALL, randomPromptSet, randomWeights } from './random-model';
import { ortGemmPeak } from './peak';
import { restartBlocks, planScan } from '../src/lib/core/experiments/scanPlan';
import { rowMacs } from '../src/lib/core/experiments/cost';

const PREFIX = `arithlens-profile-${process.pid}`;
const N = Number(process.env.BENCH_PROMPTS ?? 64);
const s = GPT2_SMALL;
const weights = randomWeights(s, 1);
const set = randomPromptSet(s, N, 8, 3, 3, 50256);
const { n_layers: L, n_heads: H, d_head: dh, d_mlp: M, d_model: D } = s;
const firsts = [...Array.from({ length: L * H }, (_, i) => Math.floor(i / H)), ...Array.from({ length: L }, (_, l) => l)];
const starts = restartBlocks(s, set, firsts, true);
const plan = planScan(
	s,
	set,
	firsts.map((l, i) => ({ firstLayer: l, heads: i < L * H ? 'head' : 'none', mlps: i < L * H ? 'none' : 'layer', actsFrom: 0 })),
	starts,
	true
);
const only = process.env.PROFILE_GROUPS?.split(',').map(Number);
console.log(`restart blocks ${starts}; ${plan.groups.length} groups, ${plan.total} rows`);
const GEMM = new Set(['MatMul', 'Gemm', 'FusedMatMul', 'FusedGemm']);
const peak = await ortGemmPeak();
console.log(`onnxruntime GEMM peak ${peak.toFixed(1)} GFLOP/s`);
const totals: Record<string, number> = {};
let sumRun = 0;
let sumKernel = 0;
for (const [gi, group] of plan.groups.entries()) {
	if (only && !only.includes(gi)) continue;
	const { start, T, P, heads, mlps } = group.shape;
	const B = Math.min(batchSize(group.rowBytes), group.rows.length);
	let t = performance.now();
	const bytes = buildGraph(s, weights, { hooks: [], heads, mlps, positions: 'gather', startLayer: start, score: true, logits: false });
	const buildMs = performance.now() - t;
	t = performance.now();
	const session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'], enableProfiling: true, profileFilePrefix: `/tmp/${PREFIX}` });
	const createMs = performance.now() - t;
	const feeds: Record<string, ort.Tensor> = {};
	if (start === 0) feeds[INPUTS.tokens] = new ort.Tensor('int64', BigInt64Array.from({ length: B * T }, (_, i) => BigInt(set.prompts[i % N].prompt[(i % 9)])), [B, T]);
	else feeds[INPUTS.residPre] = new ort.Tensor('float32', new Float32Array(B * T * D).map(() => Math.random() - 0.5), [B, T, D]);
	if (heads !== 'none') {
		feeds[INPUTS.headMask] = new ort.Tensor('float32', new Float32Array(B * L * H).fill(1), [B, L, H]);
		feeds[INPUTS.headRepl] = new ort.Tensor('float32', new Float32Array(B * L * H * T * dh), [B, L, H, T, dh]);
	}
	if (mlps !== 'none') {
		feeds[INPUTS.mlpMask] = new ort.Tensor('float32', new Float32Array(B * L).fill(1), [B, L]);
		feeds[INPUTS.mlpRepl] = new ort.Tensor('float32', new Float32Array(B * L * T * M), [B, L, T, M]);
	}
	feeds[INPUTS.positions] = new ort.Tensor('int64', BigInt64Array.from({ length: B * P }, (_, i) => BigInt(T - P + (i % P))), [B, P]);
	feeds[INPUTS.targets] = new ort.Tensor('int64', BigInt64Array.from({ length: B * P * 2 }, (_, i) => BigInt(i)), [B, P, 2]);
	await session.run(feeds);
	t = performance.now();
	await session.run(feeds);
	const runMs = performance.now() - t;
	(session as unknown as { endProfiling(): void }).endProfiling();
	await session.release();
	const file = readdirSync('/tmp').filter((f) => f.startsWith(PREFIX)).map((f) => `/tmp/${f}`)[0];
	const events = JSON.parse(readFileSync(file, 'utf8')) as { cat: string; name: string; dur: number; args?: { op_name?: string } }[];
	rmSync(file);
	const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run');
	const lastRunStart = (runs.at(-1) as unknown as { ts: number }).ts;
	const ops: Record<string, number> = {};
	for (const e of events)
		if (e.cat === 'Node' && e.name.endsWith('_kernel_time') && (e as unknown as { ts: number }).ts >= lastRunStart) ops[e.args!.op_name!] = (ops[e.args!.op_name!] ?? 0) + e.dur / 1000;
	const kernel = Object.values(ops).reduce((a, b) => a + b, 0);
	const gemm = Object.entries(ops).filter(([k]) => GEMM.has(k)).reduce((a, [, v]) => a + v, 0);
	const gflop = (2 * B * rowMacs(s, T, P, start, mlps === 'none' ? P : T)) / 1e9;
	const batches = Math.ceil(group.rows.length / batchSize(group.rowBytes));
	sumRun += (runMs * group.rows.length) / B;
	sumKernel += (kernel * group.rows.length) / B;
	for (const [k, v] of Object.entries(ops)) totals[k] = (totals[k] ?? 0) + (v * group.rows.length) / B / 1000;
	const top = Object.entries(ops).sort((a, b) => b[1] - a[1]).slice(0, 8).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ');
	console.log(
		`group ${gi} start ${start} ${heads}/${mlps} rows ${group.rows.length} (batches of ${B}, ${batches} forwards): build ${buildMs.toFixed(0)} ms, session ${createMs.toFixed(0)} ms; ` +
			`one batch ${runMs.toFixed(0)} ms (${gflop.toFixed(1)} GFLOP est., ${(gflop / (runMs / 1000)).toFixed(0)} GFLOP/s), kernels ${kernel.toFixed(0)} ms: GEMM ${gemm.toFixed(0)} ms (${(gflop / (gemm / 1000)).toFixed(0)} GFLOP/s), other ${(kernel - gemm).toFixed(0)} ms [${top}]`
	);
}
console.log(`scan forwards extrapolated from one batch per group: ${(sumRun / 1000).toFixed(1)} s, of which kernels ${(sumKernel / 1000).toFixed(1)} s`);
console.log(
	'kernel time by op over the scan (s): ' +
		Object.entries(totals)
			.sort((a, b) => b[1] - a[1])
			.map(([k, v]) => `${k} ${v.toFixed(1)}`)
			.join(', ')
);
