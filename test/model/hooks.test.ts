// The hook table (model/hooks.ts): names as TransformerLens and the PyTorch reference spell them, in the
// reference's forward order, with the shapes the reference captured (DESIGN §3); capture --help lists them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { allHookNames, hookName, hookNameGroups, hookShape, type HookName } from '../../src/lib/core/model/hooks';
import type { Spec } from '../../src/lib/core/model/spec';
import { readFixture, ROOT } from '../engine/fixtures';

describe('hook table', () => {
	it('hookName builds block hook names', () => {
		expect(hookName('attn.hook_pattern', 3)).toBe('blocks.3.attn.hook_pattern');
		expect(hookName('hook_resid_pre', 0)).toBe('blocks.0.hook_resid_pre');
		expect(hookName('mlp.hook_post', 11)).toBe('blocks.11.mlp.hook_post');
	});

	it.each(['tiny-gpt2', 'tiny-llama-gqa', 'tiny-neox-parallel', 'tl-lnpre-attn-only'])('%s: every hook the reference captured, in its order and shape', (name) => {
		const fx = readFixture(name);
		const spec = (JSON.parse(readFileSync(join(ROOT, 'test/fixtures', `${name}.json`), 'utf8')) as { spec: Spec }).spec;
		const hooks = fx.manifest.captures[0].hooks as HookName[];
		expect(allHookNames(spec)).toEqual(hooks);
		const T = fx.manifest.tokens[fx.manifest.captures[0].prompt].length;
		for (const h of hooks) {
			const got = hookShape(spec, h).map((d) => (d === 'B' ? 1 : d === 'T' ? T : d));
			const want = fx.float(`capture.0.${h}`).shape;
			expect(got.slice(got.length - want.length), h).toEqual(want);
		}
	});

	it('lists the names for capture --help, block hooks brace-grouped', () => {
		expect(hookNameGroups()).toEqual([
			'hook_embed',
			'hook_pos_embed',
			'blocks.L.hook_{resid_pre,attn_out,resid_mid,mlp_out,resid_post}',
			'blocks.L.attn.hook_{q,k,v,attn_scores,pattern,z,result}',
			'blocks.L.mlp.hook_{pre,pre_linear,post}',
			'ln_final.hook_normalized',
			'logits'
		]);
	});
});
