// The Flow panel (DESIGN §11) end to end in headless Chromium on WASM: the direct logit attribution,
// the logit lens and the head-to-head edges the page shows equal what `arithlens attribute` and
// `arithlens edges` compute for the same generated prompts; a head clicked in the circuit graph is
// selected everywhere (the URL names it). A screenshot goes to docs/screenshots/flow.png.
//   npx vitest run --config test/browser/vitest.config.ts test/browser/flow.test.ts
// ARITHLENS_SKIP_BUILD=1 reuses an existing build/.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from './harness/browser';
import { APP_BUILD, ensureAppBuild, REPO } from './harness/build';
import { serveStatic, type StaticServer } from './dashboardServer';
import { openDashboard, waitForScan } from './dashboardPage';
import { tempDir } from '../tempDir';

const TOL = 1e-4;
const PROMPTS = ['--task', 'add:3:eos', '--n', '16', '--seed', '3'];
const QUERY = '?backend=wasm&n=16&seed=3';

let server: StaticServer;
let browser: Awaited<ReturnType<typeof launchChromium>>;
const pageErrors: string[] = [];

beforeAll(async () => {
	ensureAppBuild();
	server = await serveStatic([['/', APP_BUILD]]);
	browser = await launchChromium();
});

afterAll(async () => {
	await browser?.close();
	await server?.close();
});

/** `arithlens <command> --json` on the bundled default model and the page's prompts. */
function cli(command: string, extra: string[] = []) {
	const out = join(tempDir('arithlens-flow-'), `${command}.json`);
	execFileSync(process.execPath, [join(REPO, 'bin/arithlens.js'), command, '--model', 'models/add-3d', ...PROMPTS, ...extra, '--json', out], { cwd: REPO, stdio: 'pipe' });
	return JSON.parse(readFileSync(out, 'utf8'));
}

type Row = { name: string; value: number };
const rows = (page: import('playwright-core').Page, testId: string, key: string) =>
	page.getByTestId(testId).locator(`tr[${key}]`).evaluateAll((trs, k) => trs.map((tr) => ({ name: tr.getAttribute(k)!, value: Number(tr.getAttribute('data-value')) })), key) as Promise<Row[]>;

describe('Flow panel', () => {
	it('shows the CLI attribution, lens and edges; a graph node selects its head', async () => {
		const page = await browser.context.newPage();
		await page.setViewportSize({ width: 1400, height: 1000 });
		page.on('pageerror', (e) => void pageErrors.push(e.message));
		await openDashboard(page, server.url, QUERY);
		await waitForScan(page);
		await page.getByTestId('flow-top').locator('tr[data-component]').first().waitFor({ timeout: 60_000 });

		const dla = cli('attribute');
		const byName = (i: number, field: 'logit' | 'logit_diff') => new Map<string, number>(dla.positions[i].components.map((c: Record<string, number>) => [c.name, c[field]]));
		const expectRows = (shown: Row[], want: Map<string, number>, what: string) => {
			expect(shown.length, what).toBeGreaterThan(0);
			for (const r of shown) expect(Math.abs(r.value - want.get(r.name)!), `${what} ${r.name}: page ${r.value}, CLI ${want.get(r.name)}`).toBeLessThanOrEqual(TOL);
		};
		expectRows(await rows(page, 'flow-top', 'data-component'), byName(0, 'logit'), 'position 0 logit');
		expect(Math.abs(Number(await page.getByTestId('flow-logit').getAttribute('data-value')) - dla.positions[0].logit)).toBeLessThanOrEqual(TOL);
		const lens = await page.getByTestId('flow-lens').locator('td[data-logprob]').evaluateAll((tds) => tds.map((td) => Number(td.getAttribute('data-logprob'))));
		const ranks = await page.getByTestId('flow-lens').locator('td[data-rank]').evaluateAll((tds) => tds.map((td) => Number(td.getAttribute('data-rank'))));
		lens.forEach((v, l) => expect(Math.abs(v - dla.positions[0].lens[l].logprob), `lens layer ${l}`).toBeLessThanOrEqual(TOL));
		expect(ranks).toEqual(dla.positions[0].lens.map((l: { rank: number }) => l.rank));

		await page.getByTestId('flow-target').selectOption('logit_diff');
		await page.waitForFunction(() => document.querySelector('[data-testid="flow-top"] th:last-child')?.textContent === 'logit diff');
		expectRows(await rows(page, 'flow-top', 'data-component'), byName(0, 'logit_diff'), 'position 0 logit diff');
		await page.getByTestId('flow-target').selectOption('logit');
		await page.getByTestId('flow-position').selectOption('2');
		await page.waitForFunction(() => document.querySelector('[data-testid="flow-summary"]')?.textContent?.includes('answer position 2'));
		expectRows(await rows(page, 'flow-top', 'data-component'), byName(2, 'logit'), 'position 2 logit');

		await page.getByTestId('edges-run').click();
		await page.getByTestId('edges-summary').waitFor({ timeout: 180_000 });
		const edges = cli('edges');
		const want = new Map<string, number>(edges.edges.map((e: { sender: string; receiver: string; score: number }) => [`${e.sender}>${e.receiver}`, e.score]));
		const shownEdges = await rows(page, 'edges-top', 'data-edge');
		expect(shownEdges).toHaveLength(8);
		for (const e of shownEdges) expect(Math.abs(e.value - want.get(e.name)!), `edge ${e.name}`).toBeLessThanOrEqual(TOL);
		// the strongest paths are the CLI's most negative ones, in order
		expect(shownEdges.map((e) => e.name)).toEqual([...want].sort((a, b) => a[1] - b[1]).slice(0, 8).map(([k]) => k));

		const node = page.getByTestId('circuit-graph').locator('g.node.head').first();
		const id = (await node.getAttribute('data-node'))!;
		await node.click();
		const [, layer, head] = /^L(\d+)H(\d+)$/.exec(id)!;
		await page.waitForFunction((h) => new URL(location.href).searchParams.get('head') === h, `${layer}.${head}`);
		expect(await page.getByTestId('circuit-graph').locator(`g[data-node="${id}"]`).getAttribute('aria-pressed')).toBe('true');

		mkdirSync(join(REPO, 'docs/screenshots'), { recursive: true });
		await page.locator('section[aria-labelledby="flow-heading"]').screenshot({ path: join(REPO, 'docs/screenshots/flow.png') });
		await page.close();
		expect(pageErrors).toEqual([]);
	});
});
