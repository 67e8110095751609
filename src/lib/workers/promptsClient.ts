// The page's handle on prompts.worker.ts: one job at a time, each with a time budget. A job is
// synchronous inside the worker, so cancelling or running out of time terminates the worker (the
// next job starts a fresh one and sends the tokenizer again).
import type { ArithTokenizer } from '$lib/core/model';
import { ABORT } from './engineClient';
import { preparePrompts, type PreparedPrompts, type PromptJob, type PromptRequest, type PromptResponse, type TokenizerInput } from './prompts';

/** The name of the error a job that ran out of time rejects with. */
export const TIMEOUT = 'TimeoutError';

/** The tokenizer of a job: its files for a worker, the built one for a preparer on this thread. */
export interface JobTokenizer {
	files: TokenizerInput | null;
	built: ArithTokenizer | null;
}

export interface PromptPreparer {
	prepare(job: PromptJob, tokenizer: JobTokenizer, opts: { signal: AbortSignal; timeoutMs: number }): Promise<PreparedPrompts>;
}

export class PromptWorker implements PromptPreparer {
	#worker: Worker | null = null;
	/** The tokenizer files the live worker holds (undefined: none sent yet). */
	#sent: TokenizerInput | null | undefined = undefined;
	#next = 1;

	prepare(job: PromptJob, tokenizer: JobTokenizer, { signal, timeoutMs }: { signal: AbortSignal; timeoutMs: number }): Promise<PreparedPrompts> {
		if (signal.aborted) return Promise.reject(named('cancelled', ABORT));
		const worker = (this.#worker ??= new Worker(new URL('./prompts.worker.ts', import.meta.url), { type: 'module', name: 'arithlens-prompts' }));
		const id = this.#next++;
		const req: PromptRequest = { id, job, tokenizer: this.#sent === tokenizer.files ? 'cached' : tokenizer.files };
		this.#sent = tokenizer.files;
		return new Promise((resolve, reject) => {
			const finish = (stop: boolean, settle: () => void) => {
				clearTimeout(timer);
				signal.removeEventListener('abort', onAbort);
				worker.removeEventListener('message', onMessage);
				worker.removeEventListener('error', onError);
				if (stop) this.#terminate(worker);
				settle();
			};
			const onAbort = () => finish(true, () => reject(named('cancelled', ABORT)));
			const onError = (e: ErrorEvent) => finish(true, () => reject(new Error(`prompt worker failed: ${e.message || 'could not start'}`)));
			const onMessage = (e: MessageEvent<PromptResponse>) => {
				const msg = e.data;
				if (msg.id !== id) return;
				finish(false, () => (msg.type === 'result' ? resolve(msg.result) : reject(named(msg.error.message, msg.error.name))));
			};
			const timer = setTimeout(() => finish(true, () => reject(named(`took longer than ${timeoutMs / 1000} s`, TIMEOUT))), timeoutMs);
			signal.addEventListener('abort', onAbort, { once: true });
			worker.addEventListener('message', onMessage);
			worker.addEventListener('error', onError);
			worker.postMessage(req);
		});
	}

	dispose(): void {
		if (this.#worker) this.#terminate(this.#worker);
	}

	#terminate(worker: Worker) {
		worker.terminate();
		if (this.#worker === worker) [this.#worker, this.#sent] = [null, undefined];
	}
}

/** Prepares on this thread: where there is no Worker (Node tests, prerendering). Not cancellable mid-job. */
export const inThreadPreparer: PromptPreparer = {
	async prepare(job, tokenizer, { signal }) {
		const result = await preparePrompts(job, tokenizer.built);
		if (signal.aborted) throw named('cancelled', ABORT);
		return result;
	}
};

function named(message: string, name: string): Error {
	return Object.assign(new Error(message), { name });
}
