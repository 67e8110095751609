import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { makeProvenance, sha256Hex } from '../../src/lib/core/export/provenance';

describe('sha256Hex', () => {
	it('matches the FIPS 180-2 vectors and node:crypto on a fixture file', async () => {
		expect(await sha256Hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
		expect(await sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
		const bytes = readFileSync(new URL('../fixtures/tiny-gpt2.safetensors', import.meta.url));
		const want = createHash('sha256').update(bytes).digest('hex');
		expect(await sha256Hex(new Uint8Array(bytes))).toBe(want);
		expect(await sha256Hex(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength))).toBe(want);
	});
});

describe('makeProvenance', () => {
	const base = {
		arithlens_version: '0.1.0', model: { id: 'openai-community/gpt2', revision: '607a30d' }, prompt_file_sha256: 'b'.repeat(64),
		method: 'path', metric: 'answer_logit_rel', n_prompts: 100, seed: null, backend: 'webgpu'
	};
	it('fills an ISO timestamp', () => {
		const p = makeProvenance({ ...base, timestamp: new Date(Date.UTC(2024, 0, 1)) });
		expect(p.timestamp).toBe('2024-01-01T00:00:00.000Z');
		expect('task' in p).toBe(false);
		expect(Date.parse(makeProvenance(base).timestamp)).toBeGreaterThan(Date.UTC(2024, 0, 1));
	});
	it('refuses provenance that cannot reproduce the table', () => {
		expect(() => makeProvenance({ ...base, model: { id: 'x' } })).toThrow(/revision or weights_sha256/);
		expect(() => makeProvenance({ ...base, prompt_file_sha256: undefined })).toThrow(/task spec or prompt_file_sha256/);
		expect(() => makeProvenance({ ...base, prompt_file_sha256: 'XYZ' })).toThrow(/prompt_file_sha256 must be 64 lowercase hex digits/);
		expect(() => makeProvenance({ ...base, n_prompts: 0 })).toThrow(/n_prompts must be a positive integer/);
		expect(() => makeProvenance({ ...base, arithlens_version: '' })).toThrow(/arithlens_version is required/);
		expect(() => makeProvenance({ ...base, backend: '' })).toThrow(/backend is required/);
		expect(() => makeProvenance({ ...base, timestamp: 'yesterday' })).toThrow(/not a date/);
	});
});
