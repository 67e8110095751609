// Page helpers for the dashboard browser tests: open a view, wait for the model and the scan, read
// what the head map and the attention pattern show (the figures carry their values as data-*).
import type { Page } from 'playwright-core';
import { maxOf } from '../../src/lib/core/model/arrays';

export interface CellScore {
	layer: number;
	head: number;
	score: number;
}

/** Opens the dashboard at `query` (e.g. '?model=...') and waits until its model is loaded. */
export async function openDashboard(page: Page, origin: string, query: string): Promise<void> {
	await page.goto(`${origin}/${query}`);
	await waitForModel(page);
}

export async function waitForModel(page: Page): Promise<void> {
	await page.waitForFunction(
		() => document.querySelector('[data-testid="model-info"]') || document.querySelector('[data-testid="model-error"]'),
		null,
		{ timeout: 120_000 }
	);
	const error = await page.locator('[data-testid="model-error"]').textContent({ timeout: 10 }).catch(() => null);
	if (error) throw new Error(error);
}

/** Waits for the scan the page is running (or has run) to finish, and fails on a scan error. */
export async function waitForScan(page: Page, timeout = 240_000): Promise<void> {
	const progress = page.getByTestId('scan-progress');
	await page.waitForFunction(
		() => {
			const s = document.querySelector('[data-testid="scan-progress"]')?.getAttribute('data-status');
			return s === 'done' || s === 'error' || s === 'cancelled';
		},
		null,
		{ timeout }
	);
	const status = await progress.getAttribute('data-status');
	if (status !== 'done') throw new Error(`scan ended ${status}: ${await page.locator('.status .error').textContent().catch(() => '')}`);
	await page.getByTestId('head-cell').first().waitFor();
}

/** Runs a scan with `method` from the controls and waits for it. */
export async function runScan(page: Page, method: string): Promise<void> {
	await page.getByTestId('scan-method').selectOption(method);
	await page.getByTestId('scan-run').click();
	await page.waitForFunction(() => document.querySelector('[data-testid="scan-progress"]')?.getAttribute('data-status') === 'running', null, { timeout: 10_000 }).catch(() => undefined);
	await waitForScan(page);
}

export async function headScores(page: Page, testId = 'head-cell'): Promise<CellScore[]> {
	return page.getByTestId(testId).evaluateAll((cells) =>
		cells.map((c) => ({
			layer: Number(c.getAttribute('data-layer')),
			head: Number(c.getAttribute('data-head') ?? -1),
			score: Number(c.getAttribute('data-score'))
		}))
	);
}

/** pattern[query][key] as the attention-pattern figure draws it (missing cells: the causal mask). */
export async function shownPattern(page: Page): Promise<number[][]> {
	const cells = await page
		.getByTestId('attention-cell')
		.evaluateAll((cs) => cs.map((c) => [Number(c.getAttribute('data-query')), Number(c.getAttribute('data-key')), Number(c.getAttribute('data-weight'))]));
	const T = maxOf(cells.map(([q]) => q)) + 1;
	const out = Array.from({ length: T }, () => new Array<number>(T).fill(0));
	for (const [q, k, w] of cells) out[q][k] = w;
	return out;
}

export const maxDiff = (a: readonly number[], b: readonly number[]): number => {
	if (a.length !== b.length) return Infinity;
	return Math.max(0, ...a.map((v, i) => Math.abs(v - b[i])));
};
