// Hook points (DESIGN.md §3): one table of their names, shapes and the models that have them. The
// graph's outputs and declared shapes, allHookNames and `capture --help` all read it; call sites build
// names with hookName, never by hand.
import type { Spec } from './spec';
import { checkGlob, globMatch } from './glob';

/** Dimension symbols of DESIGN §3: B batch, T positions, H heads, Hkv kv-heads, dh head dim, D model dim, M mlp dim, V vocab. */
export type HookDim = 'B' | 'T' | 'H' | 'Hkv' | 'dh' | 'D' | 'M' | 'V';

interface HookPoint {
	/** Where it sits: before the blocks, in every block (named after `blocks.{l}.`), or after them. */
	at: 'embed' | 'block' | 'final';
	name: string;
	shape: readonly HookDim[];
	/** Whether a model has it (absent: every model). */
	has?: (s: Spec) => boolean;
}

const hasMlp = (s: Spec) => !s.attn_only;

/** Every hook point, in forward order (the order of reference.all_hook_names). */
export const HOOK_POINTS = [
	{ at: 'embed', name: 'hook_embed', shape: ['B', 'T', 'D'] },
	{ at: 'embed', name: 'hook_pos_embed', shape: ['B', 'T', 'D'], has: (s: Spec) => s.pos === 'standard' },
	{ at: 'block', name: 'hook_resid_pre', shape: ['B', 'T', 'D'] },
	{ at: 'block', name: 'attn.hook_q', shape: ['B', 'T', 'H', 'dh'] },
	{ at: 'block', name: 'attn.hook_k', shape: ['B', 'T', 'Hkv', 'dh'] },
	{ at: 'block', name: 'attn.hook_v', shape: ['B', 'T', 'Hkv', 'dh'] },
	/** Scaled, masked, pre-softmax. */
	{ at: 'block', name: 'attn.hook_attn_scores', shape: ['B', 'H', 'T', 'T'] },
	{ at: 'block', name: 'attn.hook_pattern', shape: ['B', 'H', 'T', 'T'] },
	{ at: 'block', name: 'attn.hook_z', shape: ['B', 'T', 'H', 'dh'] },
	/** Per-head output through W_O, no bias. */
	{ at: 'block', name: 'attn.hook_result', shape: ['B', 'T', 'H', 'D'] },
	{ at: 'block', name: 'hook_attn_out', shape: ['B', 'T', 'D'] },
	{ at: 'block', name: 'hook_resid_mid', shape: ['B', 'T', 'D'], has: (s: Spec) => !s.parallel && !s.attn_only },
	/** The gate pre-activation of a gated MLP; its up projection is hook_pre_linear. */
	{ at: 'block', name: 'mlp.hook_pre', shape: ['B', 'T', 'M'], has: hasMlp },
	{ at: 'block', name: 'mlp.hook_pre_linear', shape: ['B', 'T', 'M'], has: (s: Spec) => !s.attn_only && s.gated },
	{ at: 'block', name: 'mlp.hook_post', shape: ['B', 'T', 'M'], has: hasMlp },
	{ at: 'block', name: 'hook_mlp_out', shape: ['B', 'T', 'D'], has: hasMlp },
	{ at: 'block', name: 'hook_resid_post', shape: ['B', 'T', 'D'] },
	{ at: 'final', name: 'ln_final.hook_normalized', shape: ['B', 'T', 'D'] },
	{ at: 'final', name: 'logits', shape: ['B', 'T', 'V'] }
] as const satisfies readonly HookPoint[];

type Point = (typeof HOOK_POINTS)[number];
/** A hook inside a block, named without its `blocks.{l}.` prefix: 'attn.hook_pattern'. */
export type BlockHook = Extract<Point, { at: 'block' }>['name'];
export type LayerHook = `blocks.${number}.${BlockHook}`;
export type HookName = Exclude<Point, { at: 'block' }>['name'] | LayerHook;

/** The name of a block's hook point: hookName('attn.hook_pattern', 3) = 'blocks.3.attn.hook_pattern'. */
export const hookName = <H extends BlockHook>(hook: H, layer: number): `blocks.${number}.${H}` => `blocks.${layer}.${hook}`;

const has = (p: HookPoint, s: Spec) => p.has?.(s) ?? true;

/** Every hook point the spec exposes, in forward order (same list as reference.all_hook_names). */
export function allHookNames(s: Spec): HookName[] {
	const names: HookName[] = [];
	for (const p of HOOK_POINTS) if (p.at === 'embed' && has(p, s)) names.push(p.name);
	for (let l = 0; l < s.n_layers; l++) for (const p of HOOK_POINTS) if (p.at === 'block' && has(p, s)) names.push(hookName(p.name, l));
	for (const p of HOOK_POINTS) if (p.at === 'final' && has(p, s)) names.push(p.name);
	return names;
}

const POINT_OF = new Map<string, HookPoint>(HOOK_POINTS.map((p) => [p.name, p]));

/** Shape of a hook point, batch first: sizes from the spec, 'B' and 'T' left as the dynamic axes they are. */
export function hookShape(s: Spec, hook: HookName): (number | 'B' | 'T')[] {
	const point = POINT_OF.get(hook.replace(/^blocks\.\d+\./, ''));
	if (!point) throw new Error(`hookShape: '${hook}' is not a hook point`);
	const size: Record<Exclude<HookDim, 'B' | 'T'>, number> = { H: s.n_heads, Hkv: s.n_kv_heads, dh: s.d_head, D: s.d_model, M: s.d_mlp, V: s.d_vocab };
	return point.shape.map((d) => (d === 'B' || d === 'T' ? d : size[d]));
}

/**
 * The hook names for a help text, in forward order of first appearance, block hooks sharing a
 * prefix brace-grouped: 'blocks.L.attn.hook_{q,k,v,attn_scores,pattern,z,result}'.
 */
export function hookNameGroups(): string[] {
	const groups = new Map<string, string[]>();
	for (const p of HOOK_POINTS) {
		const full = p.at === 'block' ? `blocks.L.${p.name}` : p.name;
		const cut = p.at === 'block' ? full.lastIndexOf('hook_') + 'hook_'.length : full.length;
		const prefix = full.slice(0, cut);
		if (!groups.has(prefix)) groups.set(prefix, []);
		groups.get(prefix)!.push(full.slice(cut));
	}
	return [...groups].map(([prefix, leaves]) => (leaves.length === 1 ? prefix + leaves[0] : `${prefix}{${leaves.join(',')}}`));
}

/** Hook names matching a comma-separated list of names or globs (`*` matches within one dotted part... or more). */
export function matchHooks(s: Spec, patterns: string): HookName[] {
	const all = allHookNames(s);
	const out = new Set<HookName>();
	for (const raw of patterns.split(',').map((p) => p.trim()).filter(Boolean)) {
		checkGlob(raw);
		const hits = all.filter((h) => globMatch(raw, h));
		if (hits.length === 0) throw new Error(`hooks: '${raw}' matches no hook point of this model`);
		hits.forEach((h) => out.add(h));
	}
	return all.filter((h) => out.has(h));
}
