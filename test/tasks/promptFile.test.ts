import { describe, expect, it } from 'vitest';
import { PromptFileError, parsePromptFile } from '../../src/lib/core/tasks';

describe('prompt files', () => {
	it('round-trips records, keeping unknown keys and their order', () => {
		const text = [
			'{"prompt":"12+34=","answer":"46","counterfactual":{"prompt":"12+35=","answer":"47","note":"b+1"},"meta":{"op":"add"},"source":"hand"}',
			'{"id":7,"prompt":"5+5=","answer":"10<eos>"}',
			'{"prompt":"12 34=","answer":"46","counterfactual":{"prompt":"12 34="}}',
			''
		].join('\n');
		const records = parsePromptFile(text);
		expect(records).toHaveLength(3);
		expect(records[0].source).toBe('hand');
		expect(records[0].counterfactual).toEqual({ prompt: '12+35=', answer: '47', note: 'b+1' });
		expect(records[1].id).toBe(7);
		expect(records.map((r) => JSON.stringify(r) + '\n').join('')).toBe(text);
	});

	it('accepts CRLF line ends, a byte-order mark and blank lines', () => {
		const records = parsePromptFile('\uFEFF{"prompt":"1+1=","answer":"2"}\r\n\r\n  \n{"prompt":"2+2=","answer":"4"}\r\n');
		expect(records.map((r) => r.answer)).toEqual(['2', '4']);
	});

	it('reports every bad line with its number', () => {
		const text = [
			'{"prompt":"1+1=","answer":"2"}',
			'{"prompt":"1+1=",',
			'["1+1=","2"]',
			'{"answer":"2"}',
			'{"prompt":"1+1=","answer":2}',
			'{"prompt":"1+1=","answer":"2","counterfactual":"1+2="}',
			'{"prompt":"1+1=","answer":"2","counterfactual":{"answer":"3"}}',
			'{"prompt":"1+1=","answer":"2","counterfactual":{"prompt":"1+2=","answer":""}}',
			'{"prompt":"1+1=","answer":"2","meta":[1]}'
		].join('\n');
		let error: PromptFileError | undefined;
		try {
			parsePromptFile(text, 'set.jsonl');
		} catch (e) {
			error = e as PromptFileError;
		}
		expect(error).toBeInstanceOf(PromptFileError);
		expect(error!.issues.map((i) => i.line)).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
		const lines = error!.message.split('\n');
		expect(lines[0]).toMatch(/^set\.jsonl:2: invalid JSON \(/);
		expect(lines.slice(1)).toEqual([
			'set.jsonl:3: expected a JSON object, got an array',
			'set.jsonl:4: missing "prompt"',
			'set.jsonl:5: "answer" must be a non-empty string, got 2',
			'set.jsonl:6: "counterfactual" must be an object, got string',
			'set.jsonl:7: "counterfactual.prompt" must be a non-empty string',
			'set.jsonl:8: "counterfactual.answer" must be a non-empty string when present',
			'set.jsonl:9: "meta" must be an object, got an array'
		]);
		expect(() => parsePromptFile('\n\n', 'empty.jsonl')).toThrow('empty.jsonl:1: no prompts in file');
	});
});
