// The one batch loop of the experiments: rows that share a shape run in consecutive batches, as many
// rows per forward as the memory budget holds (bytes per row from cost.ts) or as many as the caller
// fixes, with cancellation checked before every forward. The scan, the base runs and operand attention
// all batch through it.
import { DEFAULT_MEMORY_BUDGET } from './cost';

export interface BatchControl {
	signal?: AbortSignal;
	memoryBudget?: number;
	/** Rows per forward, overriding the memory budget (tests use it to check batching changes nothing). */
	batchRows?: number;
}

/** Rows per forward: `batchRows` when given, else as many rows of `rowBytes` bytes as the budget holds (at least 1). */
export const batchSize = (rowBytes: number, control: BatchControl = {}): number =>
	control.batchRows ?? Math.max(1, Math.floor((control.memoryBudget ?? DEFAULT_MEMORY_BUDGET) / rowBytes));

/** Runs `rows` in order, batchSize(rowBytes, control) at a time; `at` is the index of a batch's first row. */
export async function forEachBatch<R>(rows: readonly R[], rowBytes: number, control: BatchControl, run: (batch: R[], at: number) => Promise<void>): Promise<void> {
	const size = batchSize(rowBytes, control);
	for (let at = 0; at < rows.length; at += size) {
		control.signal?.throwIfAborted();
		await run(rows.slice(at, at + size), at);
	}
}
