// Latest request wins: a state class that fetches from the worker keeps only the outcome of its newest
// request, so an older answer arriving late never overwrites a newer one; starting a request cancels
// the one before it (its signal aborts, so the worker stops between batches).
import { ABORT } from '$lib/workers/engineClient';

export interface Outcome<T> {
	result(value: T): void;
	/** A failure of the newest request (also one thrown by `result`); a cancelled one (AbortError) is not an error. */
	error(message: string, error: unknown): void;
	/** The newest request was cancelled (cancel(), or its signal aborted). */
	cancelled?(): void;
	settled?(): void;
}

export class Latest {
	#seq = 0;
	#abort: AbortController | null = null;

	/** Cancels the request running and invalidates it: none of its callbacks fire. */
	drop(): void {
		this.#seq++;
		this.cancel();
	}

	/** Cancels the request running; it stays the newest, so its `settled` still fires. */
	cancel(): void {
		this.#abort?.abort();
	}

	/**
	 * Cancels the request before, then runs `work` with this request's signal; the callbacks fire only
	 * if no newer request started (or drop was called) meanwhile.
	 */
	async run<T>(work: (signal: AbortSignal) => Promise<T>, on: Outcome<T>): Promise<void> {
		this.#abort?.abort();
		const seq = ++this.#seq;
		const abort = (this.#abort = new AbortController());
		try {
			const value = await work(abort.signal);
			if (seq === this.#seq) on.result(value);
		} catch (e) {
			if (seq !== this.#seq) return;
			if ((e as Error).name === ABORT) on.cancelled?.();
			else on.error((e as Error).message, e);
		} finally {
			if (seq === this.#seq) on.settled?.();
		}
	}
}
