import { describe, expect, it } from 'vitest';
import { TaskSpecError, formatTaskSpec, makeExample, parseTaskSpec, VERBAL_TEMPLATE } from '../../src/lib/core/tasks';

describe('parseTaskSpec', () => {
	it('parses op, digit counts and options', () => {
		expect(parseTaskSpec('add:3')).toEqual({
			op: 'add', digits: [3, 3], exact: false, padOperands: false, answerWidth: 0, reversed: false, eos: false,
			template: '{a}{op}{b}=', answerPrefix: ''
		});
		const mul = parseTaskSpec('mul:2:pad:reversed');
		expect([mul.padOperands, mul.answerWidth, mul.reversed, mul.eos]).toEqual([true, 4, true, false]);
		expect(parseTaskSpec('mul:3x2').digits).toEqual([3, 2]);
		expect(parseTaskSpec('add:2:pad').answerWidth).toBe(3);
		expect(parseTaskSpec('sub:2:pad').answerWidth).toBe(2);
		expect(parseTaskSpec('div:3:pad').answerWidth).toBe(3);
		expect(parseTaskSpec('mod:3x1:pad').answerWidth).toBe(1);
		expect(parseTaskSpec('add:2:pad=5').answerWidth).toBe(5);
		expect(parseTaskSpec('div:3:eos').eos).toBe(true);
		expect(parseTaskSpec('add:3:exact').exact).toBe(true);
		const verbal = parseTaskSpec('sub:2:verbal');
		expect([verbal.template, verbal.answerPrefix]).toEqual([VERBAL_TEMPLATE, ' ']);
	});

	it('renders each operator in symbolic, verbal and custom templates', () => {
		expect(makeExample(parseTaskSpec('add:3'), 12, 345)).toMatchObject({ prompt: '12+345=', answer: '357' });
		expect(makeExample(parseTaskSpec('sub:2:verbal'), 57, 21)).toMatchObject({ prompt: 'What is 57 minus 21? Answer:', answer: ' 36' });
		expect(makeExample(parseTaskSpec('mul:2:pad:reversed'), 7, 8)).toMatchObject({ prompt: '07*08=', answer: '6500' });
		expect(makeExample(parseTaskSpec('div:3:eos'), 100, 7)).toMatchObject({ prompt: '100/7=', answer: '14<eos>' });
		expect(makeExample(parseTaskSpec('mod:2'), 47, 5)).toMatchObject({ prompt: '47%5=', answer: '2' });
		expect(makeExample(parseTaskSpec('div:2:verbal'), 9, 2).prompt).toBe('What is 9 divided by 2? Answer:');
		expect(makeExample(parseTaskSpec('add:2:pad=4:reversed'), 95, 7)).toMatchObject({ prompt: '95+07=', answer: '2010' });
		const custom = parseTaskSpec('mul:2:space:template=Q: {a} {op} {b} ({op_word}) A:');
		expect(makeExample(custom, 3, 4)).toMatchObject({ prompt: 'Q: 3 * 4 (times) A:', answer: ' 12' });
		expect(makeExample(parseTaskSpec('sub:1'), 3, 5).answer).toBe('-2');
	});

	it('resolves the shipped-model presets', () => {
		expect(parseTaskSpec('add-3d')).toEqual(parseTaskSpec('add:3:eos'));
		expect(parseTaskSpec('add-3d-llama')).toEqual(parseTaskSpec('add:3:eos'));
		expect(parseTaskSpec('mul-2d')).toEqual(parseTaskSpec('mul:2:pad:reversed'));
	});

	it('round-trips through formatTaskSpec', () => {
		for (const spec of ['add:3', 'mul:2:pad:reversed', 'sub:2:verbal', 'div:3:eos', 'mod:2', 'mul:3x2:exact:pad=6:reversed:eos',
			'add:2:space:template=What is {a} and {b}? Answer:', 'add:1:template={b}{op}{a}=']) {
			expect(formatTaskSpec(parseTaskSpec(spec))).toBe(spec);
		}
		expect(formatTaskSpec(parseTaskSpec('mul-2d'))).toBe('mul:2:pad:reversed');
	});

	it('rejects bad specs, listing valid values', () => {
		const bad: [string, RegExp][] = [
			['pow:2', /unknown operation 'pow' \(valid: add, sub, mul, div, mod; or a preset: add-3d, add-3d-llama, mul-2d\)/],
			['add', /missing digit count/],
			['add:three', /digits 'three' must be N or NxM/],
			['add:0', /add operands need 1 to 15 digits, got 0/],
			['mul:8', /mul operands need 1 to 7 digits, got 8/],
			['add:3:rev', /unknown option 'rev' \(valid: pad, pad=<width>, reversed, eos, exact, verbal, question, sentence, spaced, space, shots=<k>, sep=<text>, template=<text>\)/],
			['mul:2:pad=3', /pad=3 is narrower than the widest mul answer \(4 digits\)/],
			['add:2:verbal:template={a}{b}', /'verbal' and 'template=' exclude each other/],
			['add:2:template={a}{x}{b}', /unknown placeholder \{x\} in template \(valid: \{a\} \{b\} \{op\} \{op_word\}\)/],
			['add:2:template={a}+', /must contain \{a\} and \{b\}/]
		];
		for (const [spec, message] of bad) {
			expect(() => parseTaskSpec(spec), spec).toThrow(TaskSpecError);
			expect(() => parseTaskSpec(spec), spec).toThrow(message);
		}
	});
});
