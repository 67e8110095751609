// ModelState with a stand-in for the engine worker, and EngineClient: a model above the memory limit is not a plain
// failure: the refusal's estimate and limit (structured fields the worker passes on, never parsed from
// the message) become `tooLarge`, and loadAnyway() loads the same model with the limit raised to it.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { specFromConfig } from '../../src/lib/core/model/config';
import { ModelLoadError } from '../../src/lib/core/model/errors';
import { estimateBytes } from '../../src/lib/core/model/index';
import { ModelState, memoryRefusal, type ModelChoice } from '../../src/lib/state/model.svelte';
import { EngineClient } from '../../src/lib/workers/engineClient';
import type { Calls, Request, Response } from '../../src/lib/workers/protocol';

const GIB = 1024 ** 3;
const NEED = 3.5 * GIB;

/** What engineClient rejects with for a worker error: an Error with the worker's fields assigned. */
const workerError = (e: Error & { needBytes?: number; limitBytes?: number }) =>
	Object.assign(new Error(e.message), { name: e.name, ...(e.needBytes !== undefined ? { needBytes: e.needBytes, limitBytes: e.limitBytes } : {}) });

/** A client whose `load` refuses anything above `limit` (default 2 GiB), as loadModel does. */
function fakeClient(calls: Calls['load']['args'][]) {
	const read = (f: string) => JSON.parse(readFileSync(`test/fixtures/models/tiny-gpt2/${f}`, 'utf8'));
	const tokenizer = { json: read('tokenizer.json'), config: read('tokenizer_config.json'), modelConfig: read('config.json') };
	const info = { backend: 'wasm', requested: 'auto', id: 'big', spec: specFromConfig(tokenizer.modelConfig), params: 1, tokenizer };
	return {
		async call(type: string, args: Calls['load']['args']) {
			if (type !== 'load') throw new Error(`unexpected call ${type}`);
			calls.push(args);
			const limit = args.maxBytes ?? 2 * GIB;
			if (NEED > limit) throw workerError(new ModelLoadError('config.json', 'this model needs about 3.5 GiB', { needBytes: NEED, limitBytes: limit }));
			return info;
		}
	} as unknown as EngineClient;
}

const HUB: ModelChoice = { kind: 'hub', id: 'owner/big', revision: 'main' };

describe('ModelState: a model above the memory limit', () => {
	it('memoryRefusal reads the fields, and only numbers', () => {
		expect(memoryRefusal(Object.assign(new Error('x'), { needBytes: 5, limitBytes: 4 }))).toEqual({ needBytes: 5, limitBytes: 4 });
		expect(memoryRefusal(new Error('config.json: this model needs about 3.5 GiB, above the limit of 2 GiB'))).toBeNull();
		expect(memoryRefusal(Object.assign(new Error('x'), { needBytes: '5', limitBytes: 4 }))).toBeNull();
		expect(memoryRefusal(undefined)).toBeNull();
	});

	it('sets tooLarge, and loadAnyway retries the same source with maxBytes = the estimate', async () => {
		const calls: Calls['load']['args'][] = [];
		const model = new ModelState(fakeClient(calls));
		expect(await model.load(HUB)).toBe(false);
		expect(model.status).toBe('error');
		expect(model.tooLarge).toEqual({ needBytes: NEED, limitBytes: 2 * GIB });
		expect(calls).toEqual([{ source: HUB, backend: 'auto', maxBytes: undefined }]);

		expect(await model.loadAnyway()).toBe(true);
		expect(calls[1]).toEqual({ source: HUB, backend: 'auto', maxBytes: NEED });
		expect(model.status).toBe('ready');
		expect(model.tooLarge).toBeNull();
		expect(model.label).toBe('owner/big@main');
		expect(model.memoryBytes).toBe(estimateBytes(model.info!.spec)); // shown next to the loaded model
	});

	it('another error clears tooLarge, and loadAnyway then does nothing', async () => {
		const calls: Calls['load']['args'][] = [];
		const client = fakeClient(calls);
		const model = new ModelState(client);
		await model.load(HUB);
		expect(model.tooLarge).not.toBeNull();
		(client as unknown as { call: () => Promise<never> }).call = () => Promise.reject(workerError(new ModelLoadError('tokenizer.json', 'not found')));
		expect(await model.load({ kind: 'hub', id: 'owner/other', revision: 'main' })).toBe(false);
		expect([model.status, model.error, model.tooLarge]).toEqual(['error', 'tokenizer.json: not found', null]);
		expect(await model.loadAnyway()).toBe(false);
	});
});

describe('EngineClient', () => {
	it("rejects with the worker error's needBytes/limitBytes as fields", async () => {
		const error = { name: 'ModelLoadError', message: 'config.json: too big', needBytes: NEED, limitBytes: 2 * GIB };
		class FakeWorker extends EventTarget {
			postMessage(req: Request) {
				const res: Response = { id: req.id, type: 'error', error };
				queueMicrotask(() => this.dispatchEvent(new MessageEvent('message', { data: res })));
			}
			terminate() {}
		}
		const client = new EngineClient(new FakeWorker() as unknown as Worker);
		const e = await client.call('load', { source: { kind: 'hub', id: 'owner/big', revision: 'main' }, backend: 'auto' }).catch((x) => x);
		expect(e).toBeInstanceOf(Error);
		expect({ name: e.name, message: e.message, needBytes: e.needBytes, limitBytes: e.limitBytes }).toEqual(error);
		expect(memoryRefusal(e)).toEqual({ needBytes: NEED, limitBytes: 2 * GIB });
	});
});
