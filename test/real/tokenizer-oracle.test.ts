// Our tokenizer (transformers.js's Tokenizer behind createTokenizer) against Hugging Face's Rust
// tokenizers on real vocabularies: the same ids, with and without special tokens, for seeded arithmetic
// prompts in seven formats, their answers alone and the prompt + answer sequences scored jointly
// (DESIGN §5). Then the facts joint tokenization exists for, per tokenizer, with the ids.
import { beforeAll, describe, expect, it } from 'vitest';
import { createTokenizer, type ArithTokenizer } from '../../src/lib/core/model/tokenizer';
import { createRng } from '../../src/lib/core/tasks/rng';
import { REAL_TOKENIZERS, oracle, realTokenizer, type RealTokenizer } from './tokenizers';

interface Example {
	format: string;
	prompt: string;
	answer: string;
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** n examples of each format, operands drawn from one seeded generator (1 to 4 digits). */
function examples(seed: number, n: number): Example[] {
	const rng = createRng(seed);
	const operand = () => rng.int(0, 10 ** rng.int(1, 4) - 1);
	const out: Example[] = [];
	const formats: Record<string, (a: number, b: number) => Omit<Example, 'format'>> = {
		symbolic: (a, b) => ({ prompt: `${a}+${b}=`, answer: `${a + b}` }),
		spaced: (a, b) => ({ prompt: `${a} + ${b} =`, answer: ` ${a + b}` }),
		verbal: (a, b) => ({ prompt: `What is ${a} plus ${b}? Answer:`, answer: ` ${a + b}` }),
		fewShot: (a, b) => {
			const shots = [0, 1].map(() => {
				const [x, y] = [rng.int(0, 99), rng.int(0, 99)];
				return `${x}+${y}=${x + y}\n`;
			});
			return { prompt: `${shots.join('')}${a}+${b}=`, answer: `${a + b}` };
		},
		zeroPadded: (a, b) => ({ prompt: `${pad(a, 4)}+${pad(b, 4)}=`, answer: pad(a + b, 5) }),
		multiply: (a, b) => ({ prompt: `${a % 1000}*${b % 100}=`, answer: `${(a % 1000) * (b % 100)}` }),
		subtract: (a, b) => ({ prompt: `${a}-${b}=`, answer: `${a - b}` })
	};
	for (let i = 0; i < n; i++) for (const [format, make] of Object.entries(formats)) out.push({ format, ...make(operand(), operand()) });
	return out;
}

const EXAMPLES = examples(8, 80); // 7 formats x 80 = 560 per tokenizer
const PER_FORMAT = EXAMPLES.length / 7;
/** Subtractions with a negative result: "=-" is one token in every vocabulary here, so their prompt is no prefix. */
const NEGATIVE = EXAMPLES.filter((e) => e.format === 'subtract' && e.answer.startsWith('-')).length;

// Each tokenizer.json is parsed once per file (Llama-3's and Qwen's take ~1 s each).
const oracles = new Map<string, ReturnType<typeof oracle>>();
const rustFor = (real: RealTokenizer) => oracles.get(real.name) ?? oracles.set(real.name, oracle(real.tokenizerJson)).get(real.name)!;
const ourTokenizers = new Map<string, ArithTokenizer>();
const oursFor = (real: RealTokenizer) =>
	ourTokenizers.get(real.name) ?? ourTokenizers.set(real.name, createTokenizer(real.tokenizerJson, real.tokenizerConfig)).get(real.name)!;

it('draws at least 500 prompts in at least 5 formats, reproducibly', () => {
	expect(EXAMPLES.length).toBe(560);
	expect(new Set(EXAMPLES.map((e) => e.format)).size).toBe(7);
	expect(examples(8, 80)).toEqual(EXAMPLES);
	expect(EXAMPLES.slice(0, 7).map((e) => e.prompt + e.answer)).toEqual([
		'3+818=821', '514 + 160 = 674', 'What is 127 plus 752? Answer: 879', '32+89=121\n68+64=132\n3+12=15', '0031+0047=00078', '499*5=2495', '10-226=-216'
	]);
});

describe.each(REAL_TOKENIZERS.map((t) => [t.name, t] as const))('%s', (_name, real: RealTokenizer) => {
	let ours: ArithTokenizer;
	let rust: ReturnType<typeof oracle>;
	beforeAll(() => {
		ours = oursFor(real);
		rust = rustFor(real);
	});

	it('gives the oracle ids for every prompt, answer and prompt + answer, with and without special tokens', async () => {
		const mismatches: string[] = [];
		let checked = 0;
		for (const { prompt, answer } of EXAMPLES)
			for (const text of [prompt, answer, prompt + answer])
				for (const addSpecialTokens of [true, false]) {
					const [got, want] = [ours.encode(text, { addSpecialTokens }), await rust(text, addSpecialTokens)];
					checked++;
					if (got.join() !== want.join())
						mismatches.push(`${JSON.stringify(text)} (special tokens ${addSpecialTokens}): ours [${got}], oracle [${want}]`);
				}
		expect(checked).toBe(EXAMPLES.length * 6);
		expect(mismatches, mismatches.slice(0, 5).join('\n')).toEqual([]);
	});

	it('decodes every prompt + answer back to its text', async () => {
		for (const { prompt, answer } of EXAMPLES.slice(0, 70))
			expect(ours.decode(await rust(prompt + answer, true), { skipSpecialTokens: true })).toBe(prompt + answer);
	});
});

/**
 * Per format: how many prompts' ids are a prefix of their prompt + answer ids (joint tokenization can
 * score them), and how many answers encoded alone differ from that tail (scoring the answer alone is wrong).
 */
async function jointFacts(real: RealTokenizer) {
	const rust = rustFor(real);
	const facts: Record<string, { prefix: number; aloneDiffers: number }> = {};
	for (const { format, prompt, answer } of EXAMPLES) {
		const [p, joint, alone] = [await rust(prompt, true), await rust(prompt + answer, true), await rust(answer, false)];
		const f = (facts[format] ??= { prefix: 0, aloneDiffers: 0 });
		const isPrefix = p.every((id, i) => joint[i] === id);
		if (isPrefix) f.prefix++;
		if (isPrefix && joint.slice(p.length).join() !== alone.join()) f.aloneDiffers++;
	}
	return facts;
}

/** The same counts for every format; in subtract only the non-negative results are prefixes. */
const everyFormat = (aloneDiffers: boolean) =>
	Object.fromEntries(['symbolic', 'spaced', 'verbal', 'fewShot', 'zeroPadded', 'multiply', 'subtract'].map((f) => {
		const prefix = f === 'subtract' ? PER_FORMAT - NEGATIVE : PER_FORMAT;
		return [f, { prefix, aloneDiffers: aloneDiffers ? prefix : 0 }];
	}));

/** The prompt ids, the joint sequence and its tail after them (null if they are no prefix), and the answer alone, from the oracle. */
async function split(name: RealTokenizer['name'], prompt: string, answer: string) {
	const rust = rustFor(realTokenizer(name));
	const [p, joint, alone] = [await rust(prompt, true), await rust(prompt + answer, true), await rust(answer, false)];
	const prefix = p.every((id, i) => joint[i] === id);
	return { prompt: p, joint, prefix, tail: prefix ? joint.slice(p.length) : null, alone };
}

describe('joint tokenization facts', () => {
	it('llama2 (SentencePiece): the answer alone gains a leading ▁ that the sequence lacks', async () => {
		// `▁` 28705 is prepended to the text, so "46" alone is ▁ 4 6 while "12+34=46" ends in 4 6.
		expect(await split('llama2', '12+34=', '46')).toMatchObject({
			prompt: [1, 28705, 28740, 28750, 28806, 28770, 28781, 28746], prefix: true, tail: [28781, 28784], alone: [28705, 28781, 28784]
		});
		// A spaced answer's space is the ▁ 28705 in the sequence but ▁▁ 259 alone.
		expect(await split('llama2', '12 + 34 =', ' 46')).toMatchObject({ prefix: true, tail: [28705, 28781, 28784], alone: [259, 28781, 28784] });
		// A trailing space is the ▁ of the answer's first digit in context: the digits are the first answer token.
		expect(await split('llama2', '12 + 34 = ', '46')).toMatchObject({ prefix: true, tail: [28781, 28784] });
		// A negative result: "=-" is one token (12650) in the sequence, so the prompt's "=" (28746) is no prefix.
		expect(await split('llama2', '10-226=', '-216')).toMatchObject({ prefix: false, joint: [1, 28705, 28740, 28734, 28733, 28750, 28750, 28784, 12650, 28750, 28740, 28784], alone: [387, 28750, 28740, 28784] });
		// Where the prompt is a prefix, every answer alone differs from the tail (symbolic by the ▁, spaced ▁▁ vs ▁).
		expect(NEGATIVE).toBe(36);
		expect(await jointFacts(realTokenizer('llama2'))).toEqual(everyFormat(true));
	});

	it('gpt2 (byte-level BPE): digits merge by frequency, the tail equals the answer alone, a trailing space breaks the prefix', async () => {
		expect(await split('gpt2', '12+34=', '46')).toMatchObject({ prompt: [1065, 10, 2682, 28], prefix: true, tail: [3510], alone: [3510] });
		expect(await split('gpt2', '12 + 34 =', ' 46')).toMatchObject({ prefix: true, tail: [6337], alone: [6337] }); // Ġ46
		// 719 of the 900 three-digit numbers are one token: 815 is, 816 and 936 are not
		expect(await split('gpt2', '12+34=', '815')).toMatchObject({ tail: [49503] });
		expect(await split('gpt2', '12+34=', '816')).toMatchObject({ tail: [23, 1433] }); // 8 16
		expect(await split('gpt2', '12+34=', '936')).toMatchObject({ tail: [24, 2623] }); // 9 36
		expect(await split('gpt2', '12+34=', '1080')).toMatchObject({ tail: [24045] }); // one token of four digits
		// "= " ends the prompt in Ġ (220), but the sequence merges the space into Ġ46: no prefix.
		expect(await split('gpt2', '12 + 34 = ', '46')).toMatchObject({ prompt: [1065, 1343, 4974, 796, 220], joint: [1065, 1343, 4974, 796, 6337], prefix: false });
		expect(await split('gpt2', '10-226=', '-216')).toMatchObject({ prompt: [940, 12, 24909, 28], joint: [940, 12, 24909, 10779, 20666], prefix: false, alone: [12, 20666] });
		expect(await jointFacts(realTokenizer('gpt2'))).toEqual(everyFormat(false));
	});

	it('llama3 (BOS + digits in groups of three): the space before a spaced answer is a token of its own', async () => {
		expect(await split('llama3', '12+34=', '46')).toMatchObject({ prompt: [128000, 717, 10, 1958, 28], prefix: true, tail: [2790], alone: [2790] });
		expect(await split('llama3', '12+34=', '1080')).toMatchObject({ tail: [6640, 15] }); // 108 0
		// Ġ 220 then 46: the first answer token of ` 46` is the space, shared with every counterfactual answer.
		expect(await split('llama3', '12 + 34 =', ' 46')).toMatchObject({ prefix: true, tail: [220, 2790], alone: [220, 2790] });
		// Ending the prompt with the space keeps the prefix and makes the digits the first answer token.
		expect(await split('llama3', '12 + 34 = ', '46')).toMatchObject({ prompt: [128000, 717, 489, 220, 1958, 284, 220], prefix: true, tail: [2790] });
		expect(await split('llama3', '10-226=', '-216')).toMatchObject({ prompt: [128000, 605, 12, 14057, 28], joint: [128000, 605, 12, 14057, 11065, 12463], prefix: false, alone: [12, 12463] });
		expect(await jointFacts(realTokenizer('llama3'))).toEqual(everyFormat(false));
	});

	it('qwen2 (no BOS, one token per digit): the tail equals the answer alone, spaced answers start with Ġ', async () => {
		expect(await split('qwen2', '12+34=', '46')).toMatchObject({ prompt: [16, 17, 10, 18, 19, 28], prefix: true, tail: [19, 21], alone: [19, 21] });
		expect(await split('qwen2', '12 + 34 =', ' 46')).toMatchObject({ prefix: true, tail: [220, 19, 21], alone: [220, 19, 21] });
		expect(await split('qwen2', '12+34=', '1080')).toMatchObject({ tail: [16, 15, 23, 15] });
		expect(await split('qwen2', '12 + 34 = ', '46')).toMatchObject({ prefix: true, tail: [19, 21] });
		expect(await split('qwen2', '10-226=', '-216')).toMatchObject({ prompt: [16, 15, 12, 17, 17, 21, 28], joint: [16, 15, 12, 17, 17, 21, 10829, 17, 16, 21], prefix: false, alone: [12, 17, 16, 21] });
		expect(await jointFacts(realTokenizer('qwen2'))).toEqual(everyFormat(false));
	});

	it('our tokenizer reads the special-token ids of each tokenizer_config.json', () => {
		const ids = REAL_TOKENIZERS.map((t) => {
			const tk = oursFor(t);
			return [t.name, tk.bosId, tk.eosId, tk.padId, tk.unkId, tk.vocabSize];
		});
		expect(ids).toEqual([
			['gpt2', null, null, null, null, 50257], // GPT-2's ids come from config.json (bos/eos 50256)
			['llama2', 1, 2, null, 0, 32000],
			['llama3', 128000, 128001, null, null, 128256],
			['qwen2', null, 151645, 151643, null, 151669]
		]);
	});
});
