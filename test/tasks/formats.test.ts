// The presets must write exactly what models/train/tasks.py trained the shipped models on.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { makeExample, parseTaskSpec } from '../../src/lib/core/tasks';

interface Row { a: number; b: number; prompt: string; answer: string }
const fixture = JSON.parse(readFileSync(new URL('../fixtures/task-formats.json', import.meta.url), 'utf8')) as Record<'add' | 'mul', Row[]>;

describe('shipped-model presets reproduce tasks.FORMATS', () => {
	for (const [preset, op] of [['add-3d', 'add'], ['add-3d-llama', 'add'], ['mul-2d', 'mul']] as const) {
		it(`${preset} on ${fixture[op].length} problems`, () => {
			const task = parseTaskSpec(preset);
			const mismatches = fixture[op]
				.map((row) => ({ row, got: makeExample(task, row.a, row.b) }))
				.filter(({ row, got }) => got.prompt !== row.prompt || got.answer !== row.answer);
			expect(mismatches.slice(0, 5)).toEqual([]);
		});
	}
});
