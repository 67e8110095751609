// The experiment helpers that reduced arrays with Math.max(...xs) take 150,000 prompts (past the ~125k
// arguments a spread can pass) and give the values a direct loop gives.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { encodePromptSet } from '../../src/lib/core/experiments/prompts';
import { createTokenizer } from '../../src/lib/core/model/tokenizer';
import { positionAccuracy, scoredPositions } from '../../src/lib/core/experiments/metrics';
import { positionMean } from '../../src/lib/core/experiments/replacements';
import { firstLayer } from '../../src/lib/core/experiments/scan';

const N = 150_000;

describe('150,000 prompts', () => {
	it('scoredPositions pads every row to the longest answer', () => {
		const answers = Array.from({ length: N }, (_, n) => (n === 123_456 ? [1, 2, 3, 4] : [1, 2]));
		const nPrompt = Array.from({ length: N }, () => 6);
		const pos = scoredPositions({ nPrompt, answers });
		expect(pos).toHaveLength(N);
		expect(pos[0]).toEqual([5, 6, 6, 6]);
		expect(pos[123_456]).toEqual([5, 6, 7, 8]);
	});

	it('positionAccuracy averages each answer position over the rows that reach it', () => {
		const position_correct = Array.from({ length: N }, (_, n) => (n < 1000 ? [1, n % 2, 1] : [n % 4 === 0 ? 1 : 0]));
		const acc = positionAccuracy({ logprob: [], accuracy: [], answer_logit: [], position_correct });
		expect(acc).toHaveLength(3);
		expect(acc[0]).toBeCloseTo((1000 + (N - 1000) / 4) / N, 12);
		expect(acc[1]).toBe(0.5);
		expect(acc[2]).toBe(1);
	});

	it('positionMean over prompts of lengths 1..3', () => {
		const lengths = Array.from({ length: N }, (_, n) => 1 + (n % 3));
		const perPrompt = lengths.map((T) => Float32Array.from({ length: T }, (_, t) => t + 1)); // outer 1, inner 1
		const { data, T } = positionMean(perPrompt, lengths, 1, 1);
		expect(T).toBe(3);
		expect(Array.from(data)).toEqual([1, 2, 3]);
	});

	it('firstLayer of a set of many heads and MLPs', () => {
		const heads = Array.from({ length: N }, (_, n) => ({ layer: 3 + (n % 5), head: 0 }));
		expect(firstLayer({ kind: 'set', heads, mlps: Array.from({ length: N }, () => 9) })).toBe(3);
		expect(firstLayer({ kind: 'set', heads: [], mlps: [7, 2] })).toBe(2);
		expect(firstLayer({ kind: 'set', heads: [], mlps: [] })).toBe(Infinity);
	});
});

describe('150,000 prompts through the tokenizer', () => {
	it('encodePromptSet groups them and finds the longest answer', () => {
		const read = (f: string) => JSON.parse(readFileSync(`test/fixtures/models/tiny-gpt2/${f}`, 'utf8'));
		const tokenizer = createTokenizer(read('tokenizer.json'), read('tokenizer_config.json'), read('config.json'));
		const records = Array.from({ length: N }, (_, n) => ({ prompt: `${n % 1000}+${n % 7}=`, answer: String((n % 1000) + (n % 7)) }));
		const set = encodePromptSet(tokenizer, records);
		expect(set.prompts).toHaveLength(N);
		expect(set.maxAnswer).toBe(4); // 999 + 6 = 1005
		expect(set.groups.reduce((k, g) => k + g.members.length, 0)).toBe(N);
	}, 120_000);
});
