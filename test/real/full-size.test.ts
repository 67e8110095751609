// Qwen2.5-0.5B at its real size (24 layers, 14 q / 2 kv heads, d 896, vocab 151,936) with seeded
// random BF16 weights (make_real_models.py --full, 988 MB in the temp folder): it loads with its
// weights half, a capture of three hooks and a mean-ablation scan of its 24 MLP layers on 2 prompts
// run, in a child process whose peak RSS stays under 4 GiB. (`npm run bench` scans every head.)
import { expect, it } from 'vitest';
import { fullSizeBench } from '../../bench/full-size';

it('Qwen2.5-0.5B in BF16 loads, captures and scans in Node under 4 GiB', () => {
	const r = fullSizeBench('mlps', 2);
	console.log(`Qwen2.5-0.5B BF16: load ${r.load_s.toFixed(1)} s, capture ${r.capture_s.toFixed(1)} s, MLP scan ${r.scan_s.toFixed(1)} s, peak RSS ${(r.peak_rss_bytes / 1024 ** 3).toFixed(2)} GiB`);
	expect(r.params).toBe(494_032_768);
	expect(r.weights).toBe('bfloat16');
	expect(r.components).toBe(24);
	expect(Number.isFinite(r.top_score)).toBe(true);
	expect(r.peak_rss_bytes).toBeLessThan(4 * 1024 ** 3);
}, 600_000);
