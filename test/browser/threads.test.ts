// WASM threads when the page is cross-origin isolated. `npm start` (vite preview) sends COOP/COEP, so
// the worker runs onnxruntime-web on min(hardwareConcurrency, 8) threads; a static host sends none,
// and coi-serviceworker adds them after one reload; a page without either runs on one thread and says
// why. The scores must not depend on the thread count.
//   npx vitest run --config test/browser/vitest.config.ts test/browser/threads.test.ts
// ARITHLENS_SKIP_BUILD=1 reuses an existing build/.
import type { Page } from 'playwright-core';
import { preview, type PreviewServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from './harness/browser';
import { APP_BUILD, ensureAppBuild, REPO } from './harness/build';
import { serveStatic, type StaticServer } from './dashboardServer';
import { headScores, maxDiff, openDashboard, waitForScan } from './dashboardPage';

/** The bundled default model, its own task, a small seeded prompt set: the link's scan runs on load. */
const QUERY = '?backend=wasm&n=24&seed=1';
const THREADS = (hc: number) => Math.min(hc, 8);

let vitePreview: PreviewServer;
const statics: StaticServer[] = [];
let browser: Awaited<ReturnType<typeof launchChromium>>;
const pageErrors: string[] = [];

beforeAll(async () => {
	ensureAppBuild();
	vitePreview = await preview({ root: REPO, logLevel: 'warn', preview: { host: '127.0.0.1', port: 0 } });
	browser = await launchChromium();
});

afterAll(async () => {
	await browser?.close();
	await vitePreview?.close();
	for (const s of statics) await s.close();
});

async function newPage(): Promise<Page> {
	const page = await browser.context.newPage();
	page.on('pageerror', (e) => void pageErrors.push(`${page.url()}: ${e.message}`));
	return page;
}

interface Shown {
	isolated: boolean;
	hardwareConcurrency: number;
	threads: number;
	label: string;
	accuracy: number;
	scores: number[];
}

/** What the page shows once its model is loaded and the link's scan has run. */
async function shown(page: Page): Promise<Shown> {
	expect(await page.getByTestId('backend').getAttribute('data-backend')).toBe('wasm');
	await page.getByTestId('accuracy').and(page.locator('[data-value]:not([data-value=""])')).waitFor();
	await waitForScan(page);
	const threads = page.getByTestId('threads');
	const { isolated, hardwareConcurrency } = await page.evaluate(() => ({ isolated: self.crossOriginIsolated, hardwareConcurrency: navigator.hardwareConcurrency }));
	return {
		isolated,
		hardwareConcurrency,
		threads: Number(await threads.getAttribute('data-threads')),
		label: (await page.getByTestId('backend').textContent())!.replace(/\s+/g, ' ').trim(),
		accuracy: Number(await page.getByTestId('accuracy').getAttribute('data-value')),
		scores: (await headScores(page)).map((c) => c.score)
	};
}

describe('WASM threads under cross-origin isolation', () => {
	let oneThread: Shown;

	it('a static host without COOP/COEP and without the service worker: one thread, and the page says why', async () => {
		const server = await serveStatic([['/', APP_BUILD]]);
		statics.push(server);
		const page = await newPage();
		await page.route('**/coi-serviceworker.js', (r) => r.abort());
		await openDashboard(page, server.url, QUERY);
		oneThread = await shown(page);
		expect(oneThread.isolated).toBe(false);
		expect(oneThread.threads).toBe(1);
		expect(await page.getByTestId('threads').getAttribute('data-isolated')).toBe('false');
		expect(oneThread.label).toBe('running on WASM · 1 thread (not cross-origin isolated: no SharedArrayBuffer)');
		expect(oneThread.scores.length).toBeGreaterThan(0);
		await page.close();
	});

	it('vite preview (npm start) sends COOP/COEP: the worker runs min(cores, 8) threads with the same scores', async () => {
		const url = vitePreview.resolvedUrls!.local[0].replace(/\/$/, '');
		const response = await fetch(`${url}/`);
		expect(response.headers.get('cross-origin-opener-policy')).toBe('same-origin');
		expect(response.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
		const page = await newPage();
		await openDashboard(page, url, QUERY);
		const threaded = await shown(page);
		expect(threaded.isolated).toBe(true);
		expect(threaded.hardwareConcurrency, 'this test needs at least 2 cores').toBeGreaterThan(1);
		expect(threaded.threads).toBe(THREADS(threaded.hardwareConcurrency));
		expect(threaded.label).toBe(`running on WASM · ${threaded.threads} threads (cross-origin isolated)`);
		expect(threaded.accuracy).toBe(oneThread.accuracy);
		expect(threaded.scores.length).toBe(oneThread.scores.length);
		// threads change the order of float sums, nothing else
		expect(maxDiff(threaded.scores, oneThread.scores)).toBeLessThan(1e-4);
		await page.close();
	});

	it('a static host: coi-serviceworker (from our own origin) isolates the page after one reload', async () => {
		const server = await serveStatic([['/', APP_BUILD]]);
		statics.push(server);
		const page = await newPage();
		const requests: string[] = [];
		page.on('request', (r) => void requests.push(r.url()));
		await page.goto(`${server.url}/${QUERY}`);
		await page.waitForFunction(() => self.crossOriginIsolated === true, null, { timeout: 30_000 });
		expect(requests).toContain(`${server.url}/coi-serviceworker.js`);
		await openDashboard(page, server.url, QUERY);
		const threaded = await shown(page);
		expect(threaded.isolated).toBe(true);
		expect(threaded.threads).toBe(THREADS(threaded.hardwareConcurrency));
		expect(threaded.accuracy).toBe(oneThread.accuracy);
		expect(maxDiff(threaded.scores, oneThread.scores)).toBeLessThan(1e-4);
		await page.close();
	});

	it('no page errors', () => {
		expect(pageErrors).toEqual([]);
	});
});
