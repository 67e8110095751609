// The page's handle on engine.worker.ts: typed calls returning promises, progress callbacks, and
// cancellation through an AbortSignal (which sends `cancel` so the worker stops between batches).
import type { CallName, Calls, Request, Response } from './protocol';

export interface CallOptions<K extends CallName> {
	onProgress?: (p: Calls[K]['progress']) => void;
	signal?: AbortSignal;
}

interface Pending {
	resolve: (v: never) => void;
	reject: (e: Error) => void;
	onProgress?: (p: never) => void;
}

/** The name of the error a cancelled call rejects with (as fetch does). */
export const ABORT = 'AbortError';

export class EngineClient {
	#worker: Worker;
	#next = 1;
	#pending = new Map<number, Pending>();

	constructor(worker?: Worker) {
		this.#worker = worker ?? new Worker(new URL('./engine.worker.ts', import.meta.url), { type: 'module', name: 'arithlens-engine' });
		this.#worker.addEventListener('message', (e: MessageEvent<Response>) => this.#receive(e.data));
		this.#worker.addEventListener('error', (e) => this.#failAll(new Error(`engine worker failed: ${e.message || 'could not start'}`)));
	}

	call<K extends CallName>(type: K, args: Calls[K]['args'], opts: CallOptions<K> = {}): Promise<Calls[K]['result']> {
		const id = this.#next++;
		const { signal, onProgress } = opts;
		if (signal?.aborted) return Promise.reject(abortError());
		return new Promise((resolve, reject) => {
			const onAbort = () => {
				this.#post({ id, type: 'cancel' });
				this.#pending.delete(id);
				reject(abortError());
			};
			signal?.addEventListener('abort', onAbort, { once: true });
			const done = () => signal?.removeEventListener('abort', onAbort);
			this.#pending.set(id, {
				resolve: (v) => (done(), resolve(v)),
				reject: (e) => (done(), reject(e)),
				onProgress: onProgress as Pending['onProgress']
			});
			this.#post({ id, type, args } as Request);
		});
	}

	dispose(): void {
		this.#failAll(new Error('engine worker was shut down'));
		this.#worker.terminate();
	}

	#post(req: Request) {
		this.#worker.postMessage(req);
	}

	#receive(msg: Response) {
		const p = this.#pending.get(msg.id);
		if (!p) return; // cancelled: late messages are dropped
		if (msg.type === 'progress') p.onProgress?.(msg.progress as never);
		else {
			this.#pending.delete(msg.id);
			if (msg.type === 'result') p.resolve(msg.result as never);
			else p.reject(Object.assign(new Error(msg.error.message), msg.error)); // name, and needBytes/limitBytes when set
		}
	}

	#failAll(e: Error) {
		for (const p of this.#pending.values()) p.reject(e);
		this.#pending.clear();
	}
}

function abortError(): Error {
	return Object.assign(new Error('cancelled'), { name: ABORT });
}
