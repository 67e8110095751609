// The compare view end to end in headless Chromium on WASM: the loaded model (mul-2d) and a second
// one (its training checkpoint at step 500) scanned the same way; the difference map the page draws
// equals the difference `arithlens scan --compare` writes for the same prompts; a folder written by
// models/train/finetune.py (add-3d, top-2 heads of a mean scan, a few steps) loads and compares; a
// model of another shape shows a visible one-line error. A screenshot goes to docs/screenshots/compare.png.
//   npx vitest run --config test/browser/vitest.config.ts test/browser/compare.test.ts
// ARITHLENS_SKIP_BUILD=1 reuses an existing build/.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from './harness/browser';
import { APP_BUILD, ensureAppBuild, REPO } from './harness/build';
import { serveStatic, type StaticServer } from './dashboardServer';
import { headScores, openDashboard, waitForScan } from './dashboardPage';
import { tempDir } from '../tempDir';

/** A model fine-tuned by models/train/finetune.py along an arithlens head-mask plan, made in beforeAll. */
const FINETUNED = tempDir('arithlens-finetuned-');
const TOL = 1e-4;
const CHECKPOINT = 'models/mul-2d/checkpoints/step-500';

let server: StaticServer;
let browser: Awaited<ReturnType<typeof launchChromium>>;
const pageErrors: string[] = [];

beforeAll(async () => {
	ensureAppBuild();
	// the loop a user closes: scan, plan the top 2 heads, fine-tune them (a few steps), look at the result
	const cli = (...args: string[]) => execFileSync(process.execPath, [join(REPO, 'bin/arithlens.js'), ...args], { cwd: REPO, stdio: 'pipe' });
	cli('scan', '--model', 'models/add-3d', '--task', 'add-3d', '--n', '40', '--method', 'mean', '--json', join(FINETUNED, 'scan.json'));
	cli('plan', '--scan', join(FINETUNED, 'scan.json'), '--top', '2', '--format', 'mask', '--model', 'models/add-3d', '--out', join(FINETUNED, 'plan.json'));
	execFileSync('/usr/bin/python3', [join(REPO, 'models/train/finetune.py'), 'models/add-3d', '--plan', join(FINETUNED, 'plan.json'), '--task', 'add-3d', '--steps', '5', '--lr', '3e-3', '--eval-n', '50', '--out', join(FINETUNED, 'model')], { cwd: REPO, stdio: 'pipe' });
	server = await serveStatic([
		['/test/fixtures/', join(REPO, 'test/fixtures')],
		['/finetuned/', join(FINETUNED, 'model')],
		['/', APP_BUILD]
	]);
	browser = await launchChromium();
});

afterAll(async () => {
	await browser?.close();
	await server?.close();
});

async function compareWith(page: Page, url: string): Promise<void> {
	await page.getByTestId('compare-url').fill(url);
	await page.getByTestId('compare-url').dispatchEvent('change');
	await page.getByTestId('compare-run').click();
	await page.waitForFunction(() => document.querySelector('[data-testid="compare-summary"], [data-testid="compare-error"]'), null, { timeout: 180_000 });
}

describe('compare view', () => {
	it('mul-2d vs its step-500 checkpoint: the difference map equals scan --compare; a fine-tuned add-3d compares too', async () => {
		const page = await browser.context.newPage();
		await page.setViewportSize({ width: 1400, height: 1000 });
		page.on('pageerror', (e) => void pageErrors.push(e.message));
		await openDashboard(page, server.url, '?model=mul-2d&backend=wasm&n=40&seed=2&method=mean');
		await waitForScan(page);
		await compareWith(page, `/${CHECKPOINT}`);
		await page.getByTestId('compare-summary').waitFor();

		const out = join(tempDir('arithlens-compare-'), 'cmp.json');
		execFileSync(process.execPath, [join(REPO, 'bin/arithlens.js'), 'scan', '--model', 'models/mul-2d', '--task', 'mul:2:pad:reversed', '--n', '40', '--seed', '2', '--method', 'mean', '--compare', CHECKPOINT, '--json', out], { cwd: REPO, stdio: 'pipe' });
		const cli = JSON.parse(readFileSync(out, 'utf8'));
		const want = new Map<string, number>(cli.difference.heads.map((h: { layer: number; head: number; difference: number }) => [`${h.layer}.${h.head}`, h.difference]));
		const shown = await headScores(page, 'cmp-diff-head-cell');
		expect(shown).toHaveLength(want.size);
		let worst = 0;
		for (const c of shown) worst = Math.max(worst, Math.abs(c.score - want.get(`${c.layer}.${c.head}`)!));
		console.log(`compare difference map vs CLI: ${shown.length} heads, max |diff| ${worst.toExponential(2)}`);
		expect(worst).toBeLessThanOrEqual(TOL);
		const b = await headScores(page, 'cmp-b-head-cell');
		const second = new Map<string, number>(cli.compare.heads.map((h: { layer: number; head: number; score: number }) => [`${h.layer}.${h.head}`, h.score]));
		for (const c of b) expect(Math.abs(c.score - second.get(`${c.layer}.${c.head}`)!)).toBeLessThanOrEqual(TOL);
		const accuracy = Number(await page.getByTestId('compare-table').locator('td[data-value]').first().getAttribute('data-value'));
		expect(accuracy).toBeCloseTo(cli.compare.clean.accuracy, 6);
		mkdirSync(join(REPO, 'docs/screenshots'), { recursive: true });
		await page.locator('section[aria-labelledby="compare-heading"]').screenshot({ path: join(REPO, 'docs/screenshots/compare.png') });

		// a folder written by finetune.py loads, evaluates and compares in the page
		await openDashboard(page, server.url, '?model=add-3d&backend=wasm&n=24&seed=1&method=mean');
		await waitForScan(page);
		await compareWith(page, '/finetuned');
		await page.getByTestId('compare-summary').waitFor();
		const moved = await headScores(page, 'cmp-diff-head-cell');
		expect(moved).toHaveLength(12);
		expect(moved.some((c) => c.score !== 0), 'fine-tuning two heads changed some scores').toBe(true);
		expect(Number(await page.getByTestId('compare-table').locator('td[data-value]').first().getAttribute('data-value'))).toBeGreaterThan(0.5);

		await compareWith(page, '/test/fixtures/models/tiny-gpt2');
		const error = await page.getByTestId('compare-error').textContent();
		expect(error).toMatch(/compare models of the same shape/);
		await page.close();
		expect(pageErrors).toEqual([]);
	});
});
