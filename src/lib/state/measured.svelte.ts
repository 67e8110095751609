// One measurement the page asks the worker for on request: its result with the key of the inputs it
// was measured on (so a view can say it is stale), progress, cancel and a visible error; the newest
// request wins (Latest).
import type { ScanProgress } from '$lib/workers/protocol';
import { Latest } from './latest';

export class Measured<T> {
	result = $state.raw<T | null>(null);
	/** The prompt set (Dashboard.promptsKey) the result is for. */
	key = $state('');
	running = $state(false);
	progress = $state.raw<ScanProgress | null>(null);
	error = $state('');
	#latest = new Latest();

	async measure(key: string, work: (signal: AbortSignal, progress: (p: ScanProgress) => void) => Promise<T>): Promise<void> {
		[this.running, this.error, this.progress] = [true, '', null];
		await this.#latest.run((signal) => work(signal, (p) => !signal.aborted && (this.progress = p)), {
			result: (r) => ([this.result, this.key] = [r, key]),
			error: (message) => (this.error = message),
			settled: () => ([this.running, this.progress] = [false, null])
		});
	}

	cancel(): void {
		this.#latest.cancel();
	}

	clear(): void {
		this.#latest.drop();
		[this.result, this.key, this.error, this.running, this.progress] = [null, '', '', false, null];
	}
}
