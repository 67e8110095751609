// Hook point names (DESIGN.md §3). Built here from the spec, never typed by hand at call sites.
import type { Spec } from './spec';

export type LayerHook =
	| `blocks.${number}.hook_resid_pre`
	| `blocks.${number}.attn.hook_${'q' | 'k' | 'v' | 'attn_scores' | 'pattern' | 'z' | 'result'}`
	| `blocks.${number}.hook_${'attn_out' | 'resid_mid' | 'mlp_out' | 'resid_post'}`
	| `blocks.${number}.mlp.hook_${'pre' | 'pre_linear' | 'post'}`;
export type HookName = 'hook_embed' | 'hook_pos_embed' | LayerHook | 'ln_final.hook_normalized' | 'logits';

/** Every hook point the spec exposes, in forward order (same list as reference.all_hook_names). */
export function allHookNames(s: Spec): HookName[] {
	const names: HookName[] = ['hook_embed'];
	if (s.pos === 'standard') names.push('hook_pos_embed');
	for (let l = 0; l < s.n_layers; l++) {
		names.push(
			`blocks.${l}.hook_resid_pre`,
			`blocks.${l}.attn.hook_q`,
			`blocks.${l}.attn.hook_k`,
			`blocks.${l}.attn.hook_v`,
			`blocks.${l}.attn.hook_attn_scores`,
			`blocks.${l}.attn.hook_pattern`,
			`blocks.${l}.attn.hook_z`,
			`blocks.${l}.attn.hook_result`,
			`blocks.${l}.hook_attn_out`
		);
		if (!s.parallel && !s.attn_only) names.push(`blocks.${l}.hook_resid_mid`);
		if (!s.attn_only) {
			names.push(`blocks.${l}.mlp.hook_pre`);
			if (s.gated) names.push(`blocks.${l}.mlp.hook_pre_linear`);
			names.push(`blocks.${l}.mlp.hook_post`, `blocks.${l}.hook_mlp_out`);
		}
		names.push(`blocks.${l}.hook_resid_post`);
	}
	names.push('ln_final.hook_normalized', 'logits');
	return names;
}

/** Hook names matching a comma-separated list of names or globs (`*` matches within one dotted part... or more). */
export function matchHooks(s: Spec, patterns: string): HookName[] {
	const all = allHookNames(s);
	const out = new Set<HookName>();
	for (const raw of patterns.split(',').map((p) => p.trim()).filter(Boolean)) {
		const re = new RegExp('^' + raw.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*') + '$');
		const hits = all.filter((h) => re.test(h));
		if (hits.length === 0) throw new Error(`hooks: '${raw}' matches no hook point of this model`);
		hits.forEach((h) => out.add(h));
	}
	return all.filter((h) => out.has(h));
}
