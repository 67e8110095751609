// Links are anyone's input: viewFromParams refuses absurd values early (a task padding answers to
// 20 million digits froze the tab) and reports why, quoting only the start of a long value.
import { describe, expect, it } from 'vitest';
import { DEFAULT_VIEW, MAX_PARAM_LENGTH, MAX_PROMPTS, maxPrompts, viewFromParams, viewToParams } from '../../src/lib/state/viewUrl';

const parse = (query: string) => viewFromParams(new URLSearchParams(query));

describe('viewFromParams bounds', () => {
	it('drops a task with an absurd pad= at once, saying why', () => {
		const t0 = performance.now();
		const { view, ignored } = parse('task=add:3:pad=20000000&n=5');
		expect(performance.now() - t0).toBeLessThan(100);
		expect(view.task).toBeNull();
		expect(view.n).toBe(5);
		expect(ignored).toEqual(['task=add:3:pad=20000000 (pad=20000000 is above the limit of 64 digits)']);
	});

	it('keeps valid task specs and presets', () => {
		expect(parse('task=add:3:pad').view.task).toBe('add:3:pad');
		expect(parse('task=mul-2d').view.task).toBe('mul-2d');
		expect(parse('task=add:3:shots=2').ignored).toEqual([]);
	});

	it('names the task parser\'s complaint for other bad specs', () => {
		expect(parse('task=add:3:shots=100000').ignored).toEqual(['task=add:3:shots=100000 (shots=100000 is above the limit of 64 examples)']);
		expect(parse('task=pow:2').ignored[0]).toMatch(/^task=pow:2 \(unknown operation 'pow'/);
	});

	it('refuses over-long values before parsing them and quotes only their start', () => {
		const long = 'add:3:template={a}+{b}=' + 'x'.repeat(600);
		expect(parse(`task=${encodeURIComponent(long)}`).ignored).toEqual([`task=${long.slice(0, 60)}… (${long.length} characters, above the limit of 512)`]);
		const url = 'url:https://example.org/' + 'a'.repeat(MAX_PARAM_LENGTH);
		const { view, ignored } = parse(`model=${encodeURIComponent(url)}`);
		expect(view.model).toBeNull();
		expect(ignored).toEqual([`model=${url.slice(0, 60)}… (${url.length} characters, above the limit of ${MAX_PARAM_LENGTH})`]);
	});

	it('bounds head= and keeps the other numeric bounds', () => {
		expect(parse('head=99999999999999999999.1').view.head).toBeNull();
		expect(parse('head=3.7').view.head).toEqual({ layer: 3, head: 7 });
		expect(parse('n=100000000&k=1000').ignored).toEqual(['n=100000000', 'k=1000']);
	});

	it('round-trips a view', () => {
		const view = { ...DEFAULT_VIEW, task: 'add:3:pad', n: 7, head: { layer: 1, head: 2 } };
		expect(viewFromParams(viewToParams(view))).toEqual({ view, ignored: [] });
	});
});

describe('viewFromParams: the Neurons panel and modular sets', () => {
	it('round-trips the selected neuron and χ', () => {
		const view = { ...DEFAULT_VIEW, task: 'add:p97', n: 9409, neuron: { layer: 0, neuron: 311 }, chi: 0.0123 };
		const params = viewToParams(view);
		expect(params.get('neuron')).toBe('0.311');
		expect(params.get('chi')).toBe('0.0123');
		expect(viewFromParams(params)).toEqual({ view, ignored: [] });
		expect(parse('chi=1e-7').view.chi).toBe(1e-7);
	});

	it('bounds neuron= and chi= (an IPR lies in (0, 1])', () => {
		expect(parse('neuron=0.99999999999').view.neuron).toBeNull();
		expect(parse('neuron=1.2.3&chi=0&n=5').ignored).toEqual(['neuron=1.2.3', 'chi=0']);
		expect(parse('chi=1.5').ignored).toEqual(['chi=1.5']);
		expect(parse('chi=-0.1').view.chi).toBeNull();
		expect(parse('chi=NaN').view.chi).toBeNull();
	});

	it('carries the pruning ablation only when it is not the default (mean)', () => {
		expect(DEFAULT_VIEW.prune).toBe('mean');
		expect(viewToParams(DEFAULT_VIEW).has('prune')).toBe(false);
		const view = { ...DEFAULT_VIEW, prune: 'zero' as const };
		expect(viewToParams(view).get('prune')).toBe('zero');
		expect(viewFromParams(viewToParams(view))).toEqual({ view, ignored: [] });
		expect(parse('prune=resample')).toEqual({ view: DEFAULT_VIEW, ignored: ['prune=resample'] });
	});

	it('allows n up to every pair of a modular task, and MAX_PROMPTS otherwise', () => {
		expect(parse('task=add:p97&n=9409').view.n).toBe(9409);
		expect(parse('task=add:p97&n=9410').ignored).toEqual(['n=9410']);
		expect(parse('task=add:p97:split=test&n=4704').view.n).toBe(4704);
		expect(parse('task=add:3&n=9409').ignored).toEqual(['n=9409']);
		expect(parse('n=9409').ignored).toEqual(['n=9409']);
		expect(maxPrompts('mul:p13')).toBe(MAX_PROMPTS);
		expect(maxPrompts('sub:p101')).toBe(10201);
	});
});
