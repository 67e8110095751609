// The tokenizer built in memory from tokenizer.json + tokenizer_config.json gives the reference's ids
// (prompt with the post-processor's BOS, answer without), and refuses characters it cannot encode.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { folderSource } from '../../src/cli/node-source';
import { TokenizeError, loadModel } from '../../src/lib/core/model/index';
import { createTokenizer } from '../../src/lib/core/model/tokenizer';
import { manifests, modelDir } from './fixtures';

const all = manifests();

describe('tokenizer', () => {
	for (const m of all) {
		it(`${m.name}: tokens and answer_tokens equal the reference`, async () => {
			const { tokenizer } = await loadModel(folderSource(modelDir(m)));
			expect(m.prompts.map((p) => tokenizer.encode(p.prompt))).toEqual(m.tokens);
			expect(m.prompts.map((p) => tokenizer.encode(p.answer, { addSpecialTokens: false }))).toEqual(m.answer_tokens);
		});
	}

	const dir = modelDir(all.find((m) => m.name === 'tiny-gpt2')!);
	const tk = createTokenizer(
		JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')),
		JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8'))
	);

	it('matches added tokens written in the text whole, and still checks the characters around them', () => {
		expect(tk.encode('46<eos>', { addSpecialTokens: false })).toEqual([8, 10, 2]);
		expect(tk.encode('<bos>1<eos>', { addSpecialTokens: false })).toEqual([1, 5, 2]);
		expect(() => tk.encode('4<eo')).toThrow(TokenizeError);
		expect(() => tk.encode('<eos>x')).toThrow(/"x"/);
	});

	it('reads special ids from tokenizer_config.json and decodes / names tokens', () => {
		expect([tk.bosId, tk.eosId, tk.padId, tk.unkId]).toEqual([1, 2, 0, 3]);
		expect(tk.vocabSize).toBe(21);
		const ids = tk.encode('12+34=46');
		expect(tk.decode(ids)).toBe('<bos>12+34=46');
		expect(tk.decode(ids, { skipSpecialTokens: true })).toBe('12+34=46');
		expect(tk.tokenStrings(ids)).toEqual(['<bos>', '1', '2', '+', '3', '4', '=', '4', '6']);
	});

	it('names the character and position of text it would map to <unk>', () => {
		const err = (() => {
			try {
				tk.encode('12+3x=');
			} catch (e) {
				return e;
			}
		})() as TokenizeError;
		expect(err).toBeInstanceOf(TokenizeError);
		expect([err.char, err.position]).toEqual(['x', 4]);
		expect(err.message).toContain('"x"');
		expect(err.message).toContain('position 4');
		expect(() => tk.encode('1\n2')).toThrow(/U\+000A\) at position 1/);
		expect(() => tk.encode('7é', { addSpecialTokens: false })).toThrow(TokenizeError);
	});

	it('refuses characters a tokenizer without an unk token cannot encode', () => {
		const json = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8'));
		json.model.unk_token = null;
		json.added_tokens = json.added_tokens.filter((t: { content: string }) => t.content !== '<unk>');
		delete json.model.vocab['<unk>'];
		const noUnk = createTokenizer(json, {});
		expect(noUnk.unkId).toBe(null);
		expect(noUnk.encode('12')).toEqual([1, 5, 6]);
		expect(() => noUnk.encode('1?2')).toThrow(/"\?" \(U\+003F\) at position 1 .*no unk token/);
	});
});
