// config.json -> Spec against the PyTorch reference: config-cases.json holds configs (every family,
// HookedTransformerConfig defaults and sentinels, refused options) with the Spec or error that
// models/train/checkpoints.py gives (regenerate: /usr/bin/python3 test/model/make_config_cases.py).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { specFromConfig } from '../../src/lib/core/model/config';
import { ModelLoadError } from '../../src/lib/core/model/errors';

type Case = { name: string; config: Record<string, unknown>; spec?: unknown; error?: string };
const cases: Case[] = JSON.parse(readFileSync(join(import.meta.dirname, 'config-cases.json'), 'utf8'));

/** The field or value the reference's message is about: its first quoted word, else its first word. */
const subject = (message: string) => {
	const text = message.replace(/^config\.json: /, '');
	return text.match(/'([^']+)'/)?.[1] ?? text.split(/[\s/]/)[0];
};

describe('specFromConfig matches checkpoints.spec_from_config', () => {
	for (const c of cases) {
		it(c.name, () => {
			if (c.spec) {
				expect(specFromConfig(c.config)).toEqual(c.spec);
				return;
			}
			let error: unknown;
			try {
				specFromConfig(c.config);
			} catch (e) {
				error = e;
			}
			expect(error, `reference refuses it: ${c.error}`).toBeInstanceOf(ModelLoadError);
			expect((error as ModelLoadError).file).toBe('config.json');
			expect((error as ModelLoadError).problem).toContain(subject(c.error!));
		});
	}
});
