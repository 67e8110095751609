// DESIGN §1: state is the only bridge from UI to core. Components import core, the worker protocol and
// the worker client only through src/lib/state.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const dir = 'src/lib/components';

describe('components reach core only through state', () => {
	it('no component imports $lib/core or $lib/workers', () => {
		const offending = readdirSync(dir).flatMap((f) =>
			[...readFileSync(`${dir}/${f}`, 'utf8').matchAll(/from\s+'(\$lib\/(?:core|workers)[^']*)'/g)].map((m) => `${f}: ${m[1]}`)
		);
		expect(offending).toEqual([]);
	});
});
