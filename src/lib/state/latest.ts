// Latest request wins: a state class that fetches from the worker keeps only the outcome of its newest
// request, so an older answer arriving late never overwrites a newer one.

export interface Outcome<T> {
	result(value: T): void;
	error(message: string): void;
	settled(): void;
}

export class Latest {
	#seq = 0;

	/** Invalidates every request still running. */
	drop(): void {
		this.#seq++;
	}

	/** Runs `work`; the callbacks fire only if no newer request started (or drop was called) meanwhile. */
	async run<T>(work: () => Promise<T>, on: Outcome<T>): Promise<void> {
		const seq = ++this.#seq;
		try {
			const value = await work();
			if (seq === this.#seq) on.result(value);
		} catch (e) {
			if (seq === this.#seq) on.error((e as Error).message);
		} finally {
			if (seq === this.#seq) on.settled();
		}
	}
}
