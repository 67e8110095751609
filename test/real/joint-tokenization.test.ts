// Joint tokenization of scored examples (DESIGN §5) and tokenizer-aware prompt generation on real
// tokenizers: the answer is the tail of tokenizer(prompt + answer), which a SentencePiece vocabulary
// and GPT-2's frequency-merged digits make differ from tokenizer(answer) alone.
import { describe, expect, it } from 'vitest';
import { counterfactualSubset, encodePromptSet } from '../../src/lib/core/experiments/prompts';
import { DigitTokensError, mulDigits } from '../../src/lib/core/experiments/multiplication';
import { operandRoles } from '../../src/lib/core/experiments/operandAttention';
import { answerTokenTexts, characterTokens, tokenizeScored } from '../../src/lib/core/model/scoredTokens';
import { createTokenizer, type ArithTokenizer } from '../../src/lib/core/model/tokenizer';
import { TokenizeError } from '../../src/lib/core/model/errors';
import { formatTaskSpec, generatePrompts, parseTaskSpec } from '../../src/lib/core/tasks/index';
import { oracle, realTokenizer, type RealTokenizer } from './tokenizers';

const tokenizers = new Map<string, ArithTokenizer>();
function tk(name: RealTokenizer['name']): ArithTokenizer {
	if (!tokenizers.has(name)) {
		const t = realTokenizer(name);
		tokenizers.set(name, createTokenizer(t.tokenizerJson, t.tokenizerConfig));
	}
	return tokenizers.get(name)!;
}

describe('tokenizeScored', () => {
	it('SentencePiece: the answer of 12+34= is the digits 4 6 in context, not ▁ 4 6 as encoded alone', async () => {
		const llama2 = tk('llama2');
		const { prompt, answer } = tokenizeScored(llama2, '12+34=', '46');
		expect(llama2.tokenStrings(answer)).toEqual(['4', '6']);
		const alone = llama2.encode('46', { addSpecialTokens: false });
		expect(llama2.tokenStrings(alone)).toEqual(['▁', '4', '6']); // what the engine scored before
		// the oracle agrees on the joint sequence
		const rust = oracle(realTokenizer('llama2').tokenizerJson);
		expect([...prompt, ...answer]).toEqual(await rust('12+34=46', true));
		expect(prompt).toEqual(await rust('12+34=', true));
	});

	it("GPT-2: a verbal answer ' 46' is one token; 816 is two (8|16) and 123 one", () => {
		const gpt2 = tk('gpt2');
		const { answer } = tokenizeScored(gpt2, 'What is 12 plus 34? Answer:', ' 46');
		expect(gpt2.tokenStrings(answer)).toEqual(['Ġ46']);
		expect(answerTokenTexts(gpt2, tokenizeScored(gpt2, 'Q:', ' 46'))).toEqual([' 46']);
		expect(gpt2.tokenStrings(gpt2.encode('816', { addSpecialTokens: false }))).toEqual(['8', '16']);
		expect(gpt2.tokenStrings(gpt2.encode('123', { addSpecialTokens: false }))).toEqual(['123']);
	});

	it('Llama-3 groups digits by three, Qwen2 writes one token per digit', () => {
		expect(tk('llama3').tokenStrings(tokenizeScored(tk('llama3'), '12+34=', '1080').answer)).toEqual(['108', '0']);
		expect(tk('qwen2').tokenStrings(tokenizeScored(tk('qwen2'), '12+34=', '1080').answer)).toEqual(['1', '0', '8', '0']);
	});

	it('refuses a prompt whose tokens the answer would change, naming both tokenizations', () => {
		// GPT-2: 'Answer: ' ends in a space token that ' 46' absorbs in context
		const err = (() => {
			try {
				tokenizeScored(tk('gpt2'), 'Answer: ', '46');
			} catch (e) {
				return e as Error;
			}
		})();
		expect(err).toBeInstanceOf(TokenizeError);
		expect(err!.message).toMatch(/^prompt "Answer: " with answer "46": the prompt's tokens \["Answer",":","Ġ"\] are not a prefix of the joint tokens \["Answer",":","Ġ46"\]/);
	});

	it('answer token texts keep the space a SentencePiece ▁ stands for', () => {
		const llama2 = tk('llama2');
		expect(answerTokenTexts(llama2, tokenizeScored(llama2, 'What is 12 plus 34? Answer:', ' 46'))).toEqual([' ', '4', '6']);
	});
});

describe('characterTokens', () => {
	it('places every character of a prompt on the token that writes it', () => {
		for (const name of ['gpt2', 'llama2', 'llama3', 'qwen2'] as const) {
			const t = tk(name);
			const text = 'What is 816 plus 34? Answer:';
			const ids = t.encode(text);
			const owner = characterTokens(t, ids, text)!;
			expect(owner, name).toHaveLength(text.length);
			// the decoded text of each token's characters, concatenated, is the prompt
			const spans = new Map<number, string>();
			owner.forEach((k, c) => spans.set(k, (spans.get(k) ?? '') + text[c]));
			expect([...spans.values()].join(''), name).toBe(text);
			expect(owner.every((k, c) => c === 0 || k >= owner[c - 1]), name).toBe(true);
		}
	});

	it('operand roles of a few-shot prompt are the last problem, on real token positions', () => {
		const gpt2 = tk('gpt2');
		const prompt = '3+4=7\n816+34=';
		const roles = operandRoles(gpt2, prompt)!;
		const strings = gpt2.tokenStrings(gpt2.encode(prompt));
		// GPT-2 writes 816 as 8|16: the units and tens digits sit on token '16', the hundreds on '8'
		expect(roles.a.map((i) => strings[i])).toEqual(['16', '16', '8']);
		expect(roles.b.map((i) => strings[i])).toEqual(['34', '34']);
		expect(roles.op.map((i) => strings[i])).toEqual(['+']);
		expect(roles.eq.map((i) => strings[i])).toEqual(['=']);
	});
});

describe('tokenizer-aware prompt sets', () => {
	for (const name of ['gpt2', 'llama2', 'llama3', 'qwen2'] as const) {
		for (const spec of ['add:3', 'add:3:verbal', 'add:3:spaced:shots=3']) {
			it(`${name} ${spec}: counterfactuals keep the token count and change the first answer token`, () => {
				const t = tk(name);
				const records = generatePrompts(parseTaskSpec(spec), { n: 100, seed: 0, tokenizer: t });
				const set = encodePromptSet(t, records);
				expect(set.counterfactualIssues).toEqual([]);
				const withCf = set.prompts.filter((p) => p.counterfactual);
				expect(withCf.length, `${name} ${spec}: prompts with a counterfactual`).toBeGreaterThanOrEqual(90);
				for (const p of withCf) {
					expect(p.counterfactual!.length).toBe(p.prompt.length);
					expect(p.cfFirst).not.toBe(p.answer[0]);
				}
				// the first scored token writes a digit: never a lone ▁ or space, which logit diff could not tell apart
				for (const p of set.prompts) expect(answerTokenTexts(t, p)[0], `${name} ${JSON.stringify(records[p.index])}`).toMatch(/^\s?\d+$/);
				const sub = counterfactualSubset(set, 'answer');
				expect(sub.kept.length + sub.leftOut).toBe(100);
				expect(sub.kept).toEqual(withCf.map((p) => p.index));
			});
		}
	}

	it('without the tokenizer, GPT-2 sets counterfactuals of another token count: they are left out, not fatal', () => {
		const gpt2 = tk('gpt2');
		const records = generatePrompts(parseTaskSpec('add:3'), { n: 100, seed: 0 }); // characters, not tokens
		const set = encodePromptSet(gpt2, records);
		expect(set.prompts).toHaveLength(100);
		expect(set.counterfactualIssues.length).toBeGreaterThan(0);
		expect(set.counterfactualIssues[0].reason).toMatch(/its counterfactual ".*" has \d+ tokens, not \d+, so positions cannot line up/);
		const sub = counterfactualSubset(set, 'prompt');
		expect(sub.leftOut).toBe(set.counterfactualIssues.length);
		expect(sub.reason).toBe(set.counterfactualIssues[0].reason);
	});

	it('a prompt file whose answers both start with SentencePiece ▁: patching keeps it, logit diff leaves it out and says why', () => {
		const llama2 = tk('llama2');
		const records = [
			{ prompt: 'What is 12 plus 34? Answer:', answer: ' 46', counterfactual: { prompt: 'What is 12 plus 35? Answer:', answer: ' 47' } },
			{ prompt: 'What is 12 plus 34? Answer: ', answer: '46', counterfactual: { prompt: 'What is 12 plus 35? Answer: ', answer: '47' } }
		];
		const set = encodePromptSet(llama2, records);
		expect(llama2.tokenStrings(set.prompts[0].answer)).toEqual(['▁', '4', '6']);
		expect(llama2.tokenStrings(set.prompts[1].answer)).toEqual(['4', '6']); // the space ends the prompt
		expect(set.prompts[0].counterfactual).toBeDefined();
		expect(set.prompts[0].cfFirst).toBeUndefined();
		expect(llama2.tokenStrings([set.prompts[1].cfFirst!])).toEqual(['4']);
		expect(counterfactualSubset(set, 'prompt')).toEqual({ kept: [0, 1], leftOut: 0, reason: undefined });
		const diff = counterfactualSubset(set, 'answer');
		expect(diff.kept).toEqual([1]);
		expect(diff.reason).toMatch(/both start with the space token "▁", so logit diff cannot compare them \(end the prompt with the space\)/);
	});

	it('few-shot prompts: k solved problems, seeded, never the problem itself, same prefix in the counterfactual', () => {
		const task = parseTaskSpec('add:2:shots=4:sep=\\n\\n');
		expect(formatTaskSpec(task)).toBe('add:2:shots=4:sep=\\n\\n');
		const records = generatePrompts(task, { n: 50, seed: 7, tokenizer: tk('qwen2') });
		for (const r of records) {
			const parts = r.prompt.split('\n\n');
			expect(parts).toHaveLength(5);
			const problem = parts[4];
			const shots = parts.slice(0, 4);
			for (const s of shots) {
				const m = /^(\d+)\+(\d+)=(\d+)$/.exec(s)!;
				expect(Number(m[1]) + Number(m[2])).toBe(Number(m[3]));
				expect(`${m[1]}+${m[2]}=`).not.toBe(problem);
			}
			expect(new Set(shots).size).toBe(4);
			if (r.counterfactual) expect(r.counterfactual.prompt.startsWith(shots.map((s) => s + '\n\n').join(''))).toBe(true);
		}
		// seeded: the same seed gives the same shots
		expect(generatePrompts(task, { n: 50, seed: 7, tokenizer: tk('qwen2') })).toEqual(records);
	});
});

describe('digit views', () => {
	it('GPT-2 merges answer digits: multiplication subtasks say why they cannot be shown', () => {
		const gpt2 = tk('gpt2');
		const records = generatePrompts(parseTaskSpec('mul:2'), { n: 20, seed: 1, tokenizer: gpt2 });
		expect(() => mulDigits(encodePromptSet(gpt2, records), records, gpt2)).toThrow(DigitTokensError);
		expect(() => mulDigits(encodePromptSet(gpt2, records), records, gpt2)).toThrow(/need one token per answer digit, but this tokenizer writes the answer/);
	});

	it('Qwen2 and Llama-2 write one digit per token: each answer digit maps to its token', () => {
		for (const name of ['qwen2', 'llama2'] as const) {
			const t = tk(name);
			const records = generatePrompts(parseTaskSpec('mul:2:spaced'), { n: 20, seed: 1, tokenizer: t });
			const digits = mulDigits(encodePromptSet(t, records), records, t);
			expect(digits.prompts, name).toHaveLength(20);
			expect(digits.reversed).toBe(false);
		}
	});
});
