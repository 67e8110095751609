// Circuits on every reference fixture with scans (tiny models now; the shipped models' fixtures when
// they appear): faithfulness rows checked against the reference's single-head mean-ablation scores (a
// one-head set ablated = that head's scan row; random one-head sets = the drawn heads' rows), the
// identities of the full and empty sets, a multi-head set against a direct engine run, the head table
// of a scan, and attention to operands against the reference's captured hook_pattern.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ablationScan } from '../../src/lib/core/experiments/ablation';
import { operandAttention, operandRoles } from '../../src/lib/core/experiments/operandAttention';
import { faithfulness } from '../../src/lib/core/experiments/faithfulness';
import { promptMetrics } from '../../src/lib/core/experiments/metrics';
import { cleanRow } from '../../src/lib/core/experiments/prompts';
import { rankScan, topHeads } from '../../src/lib/core/experiments/methods';
import { ScanContext } from '../../src/lib/core/experiments/scan';
import { expectClose, loadScanFixture, scanFixtureNames, type Loaded } from './helpers';

const TOL = 1e-4;

describe.each(scanFixtureNames())('%s', (name) => {
	let f: Loaded;
	let ctx: ScanContext;
	beforeAll(async () => {
		f = await loadScanFixture(name);
		ctx = new ScanContext(f.engine, f.set);
	});
	afterAll(() => f?.engine.dispose());

	const refDrop = (metric: 'accuracy' | 'logprob', layer: number, head: number) =>
		f.fx.float(`scan.mean.heads.${metric}`).data[layer * f.model.spec.n_heads + head];

	it('faithfulness of one head: ablated = its reference mean-ablation row; random one-head sets likewise', async () => {
		const clean = f.manifest.scans.mean.clean!;
		const [l, h] = [f.model.spec.n_layers - 1, f.model.spec.n_heads - 1];
		const res = await faithfulness(ctx, { heads: [{ layer: l, head: h }], method: 'mean', randomSets: 6, seed: 3 });
		expectClose(`${name} full`, [res.full.accuracy, res.full.logprob], [clean.accuracy, clean.logprob], TOL);
		expectClose(`${name} ablated (${l},${h})`, [res.ablated.accuracy, res.ablated.logprob], [clean.accuracy - refDrop('accuracy', l, h), clean.logprob - refDrop('logprob', l, h)], TOL);
		expect(res.random.sets).toHaveLength(6);
		const want = res.random.sets.map(([h]) => clean.logprob - refDrop('logprob', h.layer, h.head));
		expectClose(`${name} random one-head sets`, res.random.ablated.logprob.values, want, TOL);
		const values = res.random.ablated.logprob.values;
		const mean = values.reduce((a, b) => a + b, 0) / values.length;
		expect(res.random.ablated.logprob.mean).toBeCloseTo(mean, 10);
		expect(res.random.ablated.logprob.std).toBeCloseTo(Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1)), 10);
	});

	it('faithfulness of all heads is 1 with an untouched circuit; of no heads the circuit is the empty model', async () => {
		const { n_layers: L, n_heads: H } = f.model.spec;
		const all = Array.from({ length: L * H }, (_, i) => ({ layer: Math.floor(i / H), head: i % H }));
		const every = await faithfulness(ctx, { heads: all, randomSets: 1 });
		expectClose(`${name} circuit of all heads = full`, [every.circuit.logprob, every.circuit.accuracy], [every.full.logprob, every.full.accuracy], 1e-5);
		expectClose(`${name} all heads ablated = empty`, [every.ablated.logprob], [every.empty.logprob], 1e-5);
		expect(every.faithfulness).toBeCloseTo(1, 5);
		const none = await faithfulness(ctx, { heads: [], randomSets: 1 });
		expectClose(`${name} no heads: ablated = full, circuit = empty`, [none.ablated.logprob, none.circuit.logprob], [none.full.logprob, none.empty.logprob], 1e-5);
		expect(none.faithfulness).toBeCloseTo(0, 5);
	});

	it('a two-layer set zero-ablated equals a direct engine run with those heads masked', async () => {
		const { n_layers: L, n_heads: H } = f.model.spec;
		const heads = [{ layer: 0, head: 1 }, { layer: L - 1, head: H - 1 }];
		const res = await faithfulness(ctx, { heads, method: 'zero', randomSets: 1 });
		const tokens = f.set.prompts.map(cleanRow);
		const mask = new Float32Array(tokens.length * L * H).fill(1);
		for (let b = 0; b < tokens.length; b++) for (const h of heads) mask[(b * L + h.layer) * H + h.head] = 0;
		const { logits } = await f.engine.run(tokens, { interventions: { head_mask: { data: mask, shape: [tokens.length, L, H] } } });
		const m = promptMetrics(logits, { nPrompt: f.set.prompts.map((p) => p.prompt.length), answers: f.set.prompts.map((p) => p.answer) });
		const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
		expectClose(`${name} set ablated`, [res.ablated.logprob, res.ablated.accuracy], [mean(m.logprob), mean(m.accuracy)], 1e-5);
	});

	it('ranks a scan into the head table and takes the top heads', async () => {
		const scan = await ablationScan(ctx, { method: 'mean' });
		const { heads, mlps } = rankScan({ method: 'mean', result: scan }, 'logprob');
		const { n_layers: L, n_heads: H } = f.model.spec;
		expect(heads).toHaveLength(L * H);
		expect(new Set(heads.map((h) => `${h.layer},${h.head}`)).size).toBe(L * H);
		const ref = f.fx.float('scan.mean.heads.logprob').data;
		const best = Array.from(ref).indexOf(Math.max(...ref));
		expect([heads[0].layer, heads[0].head]).toEqual([Math.floor(best / H), best % H]);
		for (const e of heads) {
			expect(e.score).toBeCloseTo(ref[e.layer * H + e.head], 4);
			expect(e.accuracy_drop).toBeCloseTo(refDrop('accuracy', e.layer, e.head), 4);
			expect(e.logprob_drop).toBe(e.score);
			expect(e.position_accuracy_drop).toHaveLength(f.set.maxAnswer);
		}
		expect(mlps).toHaveLength(f.model.spec.attn_only ? 0 : L);
		expect(topHeads(heads, { count: 3 })).toEqual(heads.slice(0, 3).map(({ layer, head }) => ({ layer, head })));
		expect(topHeads(heads, { percent: 25 })).toHaveLength(Math.ceil((L * H) / 4));
	});

	it('attention from the answer positions to operands, operator and = matches the reference patterns', async () => {
		expect(operandRoles(f.model.tokenizer, '12+34=')).toEqual({ a: [2, 1], b: [5, 4], op: [3], eq: [6] });
		const res = await operandAttention(ctx, f.manifest.prompts, f.model.tokenizer, { batchRows: 3 });
		const { n_heads: H } = f.model.spec;
		const [, , A, K] = res.attention.shape;
		const digits = (prefix: string) => res.targets.filter((t) => t.startsWith(prefix)).length;
		expect(res.targets).toEqual([...Array.from({ length: digits('a') }, (_, j) => `a${j}`), 'op', ...Array.from({ length: digits('b') }, (_, j) => `b${j}`), '=']);
		// answer slot 0 is predicted at the last prompt position, which the reference captured (layer 0, every prompt)
		const want: number[] = [];
		const got: number[] = [];
		const targetsOf = (prompt: string): number[][] => {
			const r = operandRoles(f.model.tokenizer, prompt)!;
			return res.targets.map((t) => (t === 'op' ? r.op : t === '=' ? r.eq : t[0] === 'a' ? [r.a[Number(t.slice(1))]] : [r.b[Number(t.slice(1))]]).filter((x) => x !== undefined));
		};
		for (let h = 0; h < H; h++)
			for (let k = 0; k < K; k++) {
				let [sum, count] = [0, 0];
				f.manifest.prompts.forEach(({ prompt }, i) => {
					const toks = targetsOf(prompt)[k];
					if (toks.length === 0) return;
					const p = f.fx.float(`capture.${i}.blocks.0.attn.hook_pattern`); // [H, T, T]
					const T = p.shape[1];
					for (const t of toks) sum += p.data[(h * T + T - 1) * T + t];
					count++;
				});
				want.push(count ? sum / count : NaN);
				got.push(res.attention.data[((0 * H + h) * A + 0) * K + k]);
			}
		expectClose(`${name} operand attention, layer 0, first answer position`, got, want, 1e-5);
	});
});
