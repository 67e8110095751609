// The 0.5B case of `npm run bench`: Qwen2.5-0.5B's real config (24 layers, 14 q / 2 kv heads, d 896,
// vocab 151,936) with seeded random BF16 weights (models/train/make_real_models.py --full, 988 MB,
// generated into the temp folder, never committed), loaded, captured and head-scanned on 8 prompts
// in a child process of its own, so its peak RSS is the model's alone.
//   npx tsx bench/full-size.ts            prints one JSON line: times (s) and peak RSS (bytes)
// test/real/full-size.test.ts runs the same child with the scan of the MLP layers only (24 rows a prompt, not 336).
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { folderSource } from '../src/cli/node-source';
import { ablationScan } from '../src/lib/core/experiments/ablation';
import { encodePromptSet } from '../src/lib/core/experiments/prompts';
import { ScanContext } from '../src/lib/core/experiments/scan';
import { maxOf } from '../src/lib/core/model/arrays';
import { hookName } from '../src/lib/core/model/hooks';
import { loadModel } from '../src/lib/core/model/index';
import { createNodeEngine } from '../src/lib/core/runtime/node';
import { generatePrompts, parseTaskSpec } from '../src/lib/core/tasks/index';
import { cachedFullSizeModel } from '../test/real/make-models';

export interface FullSizeResult {
	model: string;
	params: number;
	weights: string;
	load_s: number;
	capture_s: number;
	scan_s: number;
	prompts: number;
	/** What the scan ablated: every head, or every MLP layer. */
	scanned: 'heads' | 'mlps';
	components: number;
	/** The scan's largest score (logprob drop), finite when nothing went wrong. */
	top_score: number;
	peak_rss_bytes: number;
}

/** Runs the case in a child process (after generating the model, ~15 s the first time). */
export function fullSizeBench(scanned: 'heads' | 'mlps' = 'heads', prompts = 8): FullSizeResult {
	const folder = cachedFullSizeModel('qwen2.5-0.5b');
	const out = execFileSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), folder, scanned, String(prompts)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
	return JSON.parse(out.trim().split('\n').pop()!) as FullSizeResult;
}

async function child(folder: string, scanned: 'heads' | 'mlps', n: number): Promise<void> {
	const t0 = performance.now();
	const model = await loadModel(folderSource(folder), { maxBytes: 4 * 1024 ** 3 });
	const t1 = performance.now();
	const engine = await createNodeEngine(model);
	try {
		const tokens = [model.tokenizer.encode('What is 12 plus 34? Answer: 46')];
		await engine.run(tokens, { hooks: [hookName('attn.hook_pattern', 0), hookName('hook_resid_post', 23), hookName('mlp.hook_post', 12)] });
		const t2 = performance.now();
		const records = generatePrompts(parseTaskSpec('add:3'), { n, seed: 0, tokenizer: model.tokenizer });
		const scan = await ablationScan(new ScanContext(engine, encodePromptSet(model.tokenizer, records)), { method: 'mean', heads: scanned === 'heads', mlps: scanned === 'mlps' });
		const t3 = performance.now();
		const scores = (scanned === 'heads' ? scan.heads : scan.mlps)?.metrics.logprob;
		if (!scores) throw new Error(`the scan has no ${scanned} scores`);
		const params = [...model.weights.values()].reduce((n, w) => n + w.data.length, 0);
		const result: FullSizeResult = {
			model: 'Qwen2.5-0.5B config, seeded random BF16 weights',
			params,
			weights: [...new Set([...model.weights.values()].map((w) => ('dtype' in w ? w.dtype : 'float32')))].join('+'),
			load_s: (t1 - t0) / 1000,
			capture_s: (t2 - t1) / 1000,
			scan_s: (t3 - t2) / 1000,
			prompts: records.length,
			scanned,
			components: scores.data.length,
			top_score: maxOf(Array.from(scores.data, (v) => (Number.isNaN(v) ? -Infinity : v))),
			peak_rss_bytes: process.resourceUsage().maxRSS * 1024
		};
		console.log(JSON.stringify(result));
	} finally {
		await engine.dispose();
	}
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
	if (process.argv[2]) await child(process.argv[2], process.argv[3] === 'mlps' ? 'mlps' : 'heads', Number(process.argv[4] ?? 8));
	else console.log(JSON.stringify(fullSizeBench()));
}
