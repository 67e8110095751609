// The state classes that call the worker keep their newest request only, and starting one cancels the
// one before (through the call's AbortSignal, as EngineClient does): CircuitState.measure and
// ModelState.load/evaluate and ScanState.run with a stand-in client whose answers the test releases in any order.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { specFromConfig } from '../../src/lib/core/model/config';
import { CircuitState } from '../../src/lib/state/circuit.svelte';
import { Latest } from '../../src/lib/state/latest';
import { ModelState } from '../../src/lib/state/model.svelte';
import { ScanState, type ScanInputs, type ScanProvenance } from '../../src/lib/state/scan.svelte';
import type { EngineClient } from '../../src/lib/workers/engineClient';
import type { FaithfulnessResult } from '../../src/lib/core/experiments';
import type { ScanResult } from '../../src/lib/workers/protocol';

interface Pending {
	type: string;
	args: unknown;
	signal?: AbortSignal;
	progress?: (p: unknown) => void;
	resolve(v: unknown): void;
	reject(e: Error): void;
}

const abortError = () => Object.assign(new Error('cancelled'), { name: 'AbortError' });

/** Calls wait until the test resolves or rejects them; an aborted call rejects at once, as EngineClient's. */
function standIn() {
	const calls: Pending[] = [];
	const client = {
		call(type: string, args: unknown, opts: { signal?: AbortSignal; onProgress?: (p: unknown) => void } = {}) {
			return new Promise((resolve, reject) => {
				opts.signal?.addEventListener('abort', () => reject(abortError()), { once: true });
				calls.push({ type, args, signal: opts.signal, progress: opts.onProgress, resolve, reject });
			});
		}
	} as unknown as EngineClient;
	return { client, calls };
}

const tick = () => new Promise((r) => setTimeout(r, 0));
const result = (k: number) => ({ k }) as unknown as FaithfulnessResult;
const heads = [{ layer: 1, head: 0 }];

describe('Latest', () => {
	it('keeps the newest outcome, aborts the one before, and drop silences the running one', async () => {
		const latest = new Latest();
		const seen: string[] = [];
		const on = (tag: string) => ({ result: (v: number) => seen.push(`${tag}=${v}`), error: (m: string) => seen.push(`${tag}!${m}`), settled: () => seen.push(`${tag} settled`) });
		let first!: AbortSignal;
		let release!: (v: number) => void;
		const a = latest.run((signal) => ((first = signal), new Promise<number>((r) => (release = r))), on('a'));
		const b = latest.run(() => Promise.resolve(2), on('b'));
		expect(first.aborted).toBe(true);
		release(1);
		await Promise.all([a, b]);
		expect(seen).toEqual(['b=2', 'b settled']);

		const c = latest.run(() => Promise.reject(abortError()), on('c'));
		await c;
		expect(seen.slice(2)).toEqual(['c settled']); // a cancelled request is not an error
		const d = latest.run(() => Promise.reject(new Error('boom')), on('d'));
		await d;
		expect(seen.slice(3)).toEqual(['d!boom', 'd settled']);
		const e = latest.run(() => new Promise<number>((r) => setTimeout(() => r(5), 0)), on('e'));
		latest.drop();
		await e;
		expect(seen.slice(5)).toEqual([]);
	});
});

describe('CircuitState', () => {
	it('shows the newest measurement only; progress of a cancelled one is dropped', async () => {
		const { client, calls } = standIn();
		const circuit = new CircuitState(client);
		const first = circuit.measureHeads([], heads, 'mean', 0, 'first');
		expect(circuit.running).toBe(true);
		calls[0].progress!({ done: 1, total: 4 });
		expect(circuit.progress).toEqual({ done: 1, total: 4 });
		const second = circuit.measureHeads([], heads, 'zero', 0, 'second');
		expect(calls[0].signal!.aborted).toBe(true);
		expect(calls[1].args).toEqual({ prompts: [], heads, method: 'zero', seed: 0 });
		calls[0].progress!({ done: 2, total: 4 });
		expect(circuit.progress).toBeNull();
		calls[0].resolve(result(1));
		calls[1].resolve(result(2));
		await Promise.all([first, second]);
		expect([circuit.result, circuit.key, circuit.running, circuit.error]).toEqual([result(2), 'second', false, '']);
	});

	it('cancel stops the run without an error and keeps the last result; a failure is shown', async () => {
		const { client, calls } = standIn();
		const circuit = new CircuitState(client);
		const ok = circuit.measureHeads([], heads, 'mean', 0, 'a');
		calls[0].resolve(result(1));
		await ok;
		const cancelled = circuit.measureHeads([], heads, 'mean', 1, 'b');
		circuit.cancel();
		await cancelled;
		expect([circuit.result, circuit.key, circuit.running, circuit.progress, circuit.error]).toEqual([result(1), 'a', false, null, '']);
		const failed = circuit.measureHeads([], heads, 'mean', 2, 'c');
		calls[2].reject(new Error('worker failed'));
		await failed;
		expect([circuit.key, circuit.running, circuit.error]).toEqual(['a', false, 'worker failed']);
		circuit.clear();
		expect([circuit.result, circuit.key, circuit.error]).toEqual([null, '', '']);
	});
});

describe('ModelState.evaluate', () => {
	it('a newer evaluation cancels the older; loading a model cancels it without an error', async () => {
		const { client, calls } = standIn();
		const model = new ModelState(client);
		const first = model.evaluate([]);
		const second = model.evaluate([]);
		expect(calls.map((c) => [c.type, c.signal!.aborted])).toEqual([['evaluate', true], ['evaluate', false]]);
		calls[1].resolve({ accuracy: 0.5 });
		await Promise.all([first, second]);
		expect([model.accuracy, model.evaluating, model.accuracyError]).toEqual([{ accuracy: 0.5 }, false, '']);

		const third = model.evaluate([]);
		calls[2].reject(new Error('no engine'));
		await third;
		expect([model.accuracy, model.evaluating, model.accuracyError]).toEqual([null, false, 'no engine']);

		const fourth = model.evaluate([]);
		void model.load({ kind: 'hub', id: 'owner/m', revision: 'main' });
		await tick();
		await fourth;
		expect(calls[3].signal!.aborted).toBe(true);
		expect([model.evaluating, model.accuracyError]).toEqual([false, '']);
	});
});

describe('ScanState.run', () => {
	const inputs = (seed: number): ScanInputs => ({ model: 'm', backend: 'wasm', task: 'add:2', seed, method: 'mean' });
	const provenance = {} as ScanProvenance;
	const scanResult = (n: number) => ({ n, layers: 0, heads: 0, entries: [], mlps: [] }) as unknown as ScanResult;

	it('a newer run supersedes the older; cancel says cancelled, a failure says error', async () => {
		const { client, calls } = standIn();
		const scan = new ScanState(client);
		const first = scan.run([], inputs(1), provenance);
		const second = scan.run([], inputs(2), provenance);
		expect(calls[0].signal!.aborted).toBe(true);
		expect(calls[1].args).toEqual({ method: 'mean', prompts: [], seed: 2 });
		calls[1].progress!({ done: 1, total: 2 });
		expect(scan.progress).toEqual({ done: 1, total: 2 });
		calls[1].resolve(scanResult(2));
		await Promise.all([first, second]);
		expect([scan.status, scan.result, scan.inputs, scan.progress, scan.error]).toEqual(['done', scanResult(2), inputs(2), null, '']);

		const cancelled = scan.run([], inputs(3), provenance);
		scan.cancel();
		await cancelled;
		expect([scan.status, scan.result, scan.inputs, scan.progress, scan.error]).toEqual(['cancelled', scanResult(2), inputs(2), null, '']);
		expect(scan.isStale(inputs(3))).toBe(true);

		const failed = scan.run([], inputs(4), provenance);
		calls[3].reject(new Error('out of memory'));
		await failed;
		expect([scan.status, scan.error, scan.progress]).toEqual(['error', 'out of memory', null]);
	});
});

describe('ModelState.load', () => {
	const read = (f: string) => JSON.parse(readFileSync(`test/fixtures/models/tiny-gpt2/${f}`, 'utf8'));
	const tokenizer = { json: read('tokenizer.json'), config: read('tokenizer_config.json'), modelConfig: read('config.json') };
	const info = (id: string) => ({ backend: 'wasm', requested: 'auto', id, spec: specFromConfig(tokenizer.modelConfig), params: 1, tokenizer });

	it('a later load wins: the earlier one resolves false and neither its progress nor its info shows', async () => {
		const { client, calls } = standIn();
		const model = new ModelState(client);
		const first = model.load({ kind: 'hub', id: 'owner/a', revision: 'main' });
		const second = model.load({ kind: 'hub', id: 'owner/b', revision: 'main' });
		calls[0].progress!({ loaded: 1, total: 2 });
		expect(model.progress).toBeNull();
		calls[1].progress!({ loaded: 1, total: 4 });
		expect(model.progress).toEqual({ loaded: 1, total: 4 });
		calls[0].resolve(info('a'));
		calls[1].resolve(info('b'));
		expect(await Promise.all([first, second])).toEqual([false, true]);
		expect([model.status, model.info?.id, model.label, model.progress, model.tokenizer !== null]).toEqual(['ready', 'b', 'owner/b@main', null, true]);

		const failing = model.load({ kind: 'hub', id: 'owner/c', revision: 'main' });
		const late = model.load({ kind: 'hub', id: 'owner/d', revision: 'main' });
		calls[3].reject(new Error('tokenizer.json: not found'));
		calls[2].reject(new Error('stale failure'));
		expect(await Promise.all([failing, late])).toEqual([false, false]);
		expect([model.status, model.error, model.tooLarge]).toEqual(['error', 'tokenizer.json: not found', null]);
	});
});
