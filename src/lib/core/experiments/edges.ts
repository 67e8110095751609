// Head-to-head path patching (DESIGN §11; Wang et al. 2022): edge scores sender → receiver.
// For a sender head s, one run of the clean prompts freezes every head at its clean z except s, which
// takes its counterfactual-run z; MLPs and norms recompute. In that run each later head's z is read as
// its attention computed it from the changed residual (the graph's z_free, before the freeze replaced
// it), and each later MLP's hook_post as it recomputed: what reaches that receiver from s alone.
// Then a clean run with only the receiver's z (or hook_post) replaced by the recorded one scores the
// edge as DESIGN §5's path score: mean over prompts of (logit_patched − logit_clean) / |logit_clean| of
// the correct first answer token. The sender run is §4's path patching, whose scores are the edges
// s → logits. Receivers of the sender's own block are none (they read the same residual); an MLP of the
// sender's block is one in a sequential block (it reads the attention output) but not a parallel one.
import { nodeName } from '../export/residual';
import { hookName, type HookName } from '../model/hooks';
import type { HeadRef, Spec } from '../model/spec';
import { forEachBatch } from './batches';
import { batchInputs } from './batchInputs';
import { cachingRowBytes } from './cost';
import { pathPatchingChange } from './metrics';
import { pathPatchScan } from './patching';
import { runScan, type Component, type ScanContext, type ScanOptions } from './scan';

export { nodeName };

export type EdgeReceiver = { kind: 'head'; layer: number; head: number } | { kind: 'mlp'; layer: number } | { kind: 'logits' };

export interface Edge {
	sender: HeadRef;
	receiver: EdgeReceiver;
	/** Mean relative change of the correct answer's logit; strongly negative = the path carries the answer. */
	score: number;
}

export interface EdgeResult {
	/** Every edge scanned, senders in layer-head order, each sender's receivers in forward order, then logits. */
	edges: Edge[];
	/** Prompts the scores average over (those with a usable counterfactual). */
	n: number;
	/** The clean logits' mean, for context. */
	clean: Record<string, number>;
}

export interface EdgeOptions extends ScanOptions {
	/** Senders (default every head). */
	senders?: readonly HeadRef[];
	/** Head receivers (default every head); MLP receivers are every MLP unless `mlps` is false. */
	receivers?: readonly HeadRef[];
	mlps?: boolean;
}

/** The receivers of sender s among `heads` (later blocks) and the MLPs (this block too when sequential). */
export function receiversOf(s: Spec, sender: HeadRef, heads: readonly HeadRef[], mlps: boolean): EdgeReceiver[] {
	const out: EdgeReceiver[] = [];
	for (let l = sender.layer; l < s.n_layers; l++) {
		if (l > sender.layer) for (const h of heads) if (h.layer === l) out.push({ kind: 'head', layer: l, head: h.head });
		if (mlps && !s.attn_only && (l > sender.layer || !s.parallel)) out.push({ kind: 'mlp', layer: l });
	}
	return out;
}

const unreachable = (): never => {
	throw new Error('receiversOf gives heads and MLPs only');
};

const allHeadRefs = (s: Spec): HeadRef[] => Array.from({ length: s.n_layers * s.n_heads }, (_, i) => ({ layer: Math.floor(i / s.n_heads), head: i % s.n_heads }));

/** Every edge score of the context's prompts (each needs a counterfactual). */
export async function edgeScan(ctx: ScanContext, options: EdgeOptions = {}): Promise<EdgeResult> {
	const { set, spec: s } = ctx;
	if (!set.hasCounterfactuals) throw new RangeError('head-to-head path patching needs a counterfactual prompt for every prompt');
	const senders = options.senders ?? allHeadRefs(s);
	const heads = options.receivers ?? allHeadRefs(s);
	const mlps = options.mlps ?? true;
	const { onProgress, ...run } = options;
	const clean = await ctx.base('clean', { z: true }, run);
	const base = clean.scores.row('answer_logit');
	const edges: Edge[] = [];
	let k = 0;
	for (const sender of senders) {
		const stage = `edges from ${nodeName(sender)} (${++k} of ${senders.length})`;
		const receivers = receiversOf(s, sender, heads, mlps);
		if (!receivers.length) continue;
		const recorded = await senderRun(ctx, sender, receivers, run);
		const components = receivers.map((r): Component => (r.kind === 'logits' ? unreachable() : r));
		const table = await runScan(ctx, components, {
			base: 'clean',
			needs: { clean: {} },
			sources: () => ({ heads: (n) => recorded.z[n], mlps: (n) => recorded.post[n] ?? null })
		}, { ...run, onProgress: (p) => onProgress?.({ ...p, stage }) });
		receivers.forEach((receiver, c) => edges.push({ sender, receiver, score: pathPatchingChange(table.row('answer_logit', c), base) }));
	}
	onProgress?.({ done: 0, total: 1, stage: 'edges to the logits' });
	const toLogits = await pathPatchScan(ctx, run);
	for (const sender of senders)
		edges.push({ sender, receiver: { kind: 'logits' }, score: toLogits.heads.data[sender.layer * s.n_heads + sender.head] });
	return { edges, n: set.prompts.length, clean: { answer_logit: clean.scores.mean('answer_logit') } };
}

interface Recorded {
	/** Per prompt: the receivers' z in the intervention layout [L, H, T, dh] (blocks below the sender's left zero). */
	z: { data: Float32Array; T: number }[];
	/** Per prompt: every MLP's hook_post [L, T, M] from the sender's block up, when MLPs receive. */
	post: ({ data: Float32Array; T: number } | undefined)[];
}

/** The sender's run on every prompt (file comment), keeping what each receiver computed in it. */
async function senderRun(ctx: ScanContext, sender: HeadRef, receivers: readonly EdgeReceiver[], control: ScanOptions): Promise<Recorded> {
	const { set, spec: s } = ctx;
	const { n_layers: L, n_heads: H, d_head: dh, d_mlp: M } = s;
	const start = sender.layer;
	const clean = await ctx.base('clean', { z: true, residLayers: [start] }, control);
	const corrupt = await ctx.base('corrupt', { z: true }, control);
	const mlpLayers = [...new Set(receivers.filter((r) => r.kind === 'mlp').map((r) => r.layer))];
	const hooks: HookName[] = mlpLayers.map((l) => hookName('mlp.hook_post', l));
	const perPosition = L * H * dh;
	const sources = {
		freeze: (n: number) => ({ data: clean.z![n], T: clean.z![n].length / perPosition }),
		heads: (n: number) => ({ data: corrupt.z![n], T: corrupt.z![n].length / perPosition })
	};
	const out: Recorded = { z: new Array(set.prompts.length), post: new Array(set.prompts.length) };
	for (const group of set.groups) {
		const T = group.length;
		const P = set.maxAnswer;
		await forEachBatch(group.members, cachingRowBytes(s, T, P), control, async (members) => {
			const rows = members.map((n) => ({ c: 0, n }));
			const shape = { start, T, P, heads: 'head' as const, mlps: 'none' as const, gather: true };
			const { tokens, options } = batchInputs(s, set, clean, rows, [{ heads: [sender], mlps: [] }], 'clean', sources, shape);
			const { freeZ, cache } = await ctx.engine.run(tokens, { ...options, hooks, freeZ: true });
			const free = freeZ!.data; // [B, L - start, H, T, dh]
			const block = (L - start) * H * T * dh;
			members.forEach((n, b) => {
				const z = new Float32Array(L * H * T * dh);
				z.set(free.subarray(b * block, (b + 1) * block), start * H * T * dh);
				out.z[n] = { data: z, T };
				if (!mlpLayers.length) return;
				const post = new Float32Array(L * T * M);
				for (const l of mlpLayers) post.set(cache.get(hookName('mlp.hook_post', l))!.data.subarray(b * T * M, (b + 1) * T * M), l * T * M);
				out.post[n] = { data: post, T };
			});
		});
	}
	return out;
}
