// The worker's residual-stream views (DESIGN §11), through core on the shared ScanContext: direct logit
// attribution with the logit lens, and head-to-head path patching on the prompts with a usable
// counterfactual (the others are left out and counted, as the CLI does).
import { attributeSet, positionTokens } from '$lib/core/experiments/attribution';
import { edgeScan } from '$lib/core/experiments/edges';
import { counterfactualContext, scanContext } from './experiments';
import type { AttributionView, EdgesArgs, EdgesView, ScanProgress } from './protocol';
import { session } from './session';

type Progress = (p: ScanProgress) => void;

export async function attribute(prompts: Parameters<typeof scanContext>[0], signal: AbortSignal, onProgress: Progress): Promise<AttributionView> {
	const ctx = scanContext(prompts);
	const r = await attributeSet(ctx.engine, ctx.set, { signal, onProgress });
	const tokens = positionTokens(session().model.tokenizer, ctx.set, r.positions.length);
	return { names: r.names, positions: r.positions, tokens, layers: ctx.spec.n_layers, heads: ctx.spec.n_heads, n: ctx.set.prompts.length, logitDiffPrompts: r.logitDiffPrompts };
}

export async function edges(args: EdgesArgs, signal: AbortSignal, onProgress: Progress): Promise<EdgesView> {
	const { ctx, leftOut } = counterfactualContext(args.prompts, 'head-to-head path patching');
	const r = await edgeScan(ctx, { signal, onProgress, senders: args.heads, receivers: args.heads });
	return { edges: r.edges, n: r.n, leftOut };
}
