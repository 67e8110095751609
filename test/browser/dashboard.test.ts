// The dashboard end to end: the app as `npm run build` emits it, served statically from 127.0.0.1,
// driven in headless system Chromium. Scores shown in the head map must equal the PyTorch
// reference's (fixtures) and the CLI's for the same prompts; the pattern of a clicked head must
// equal the reference capture; the CSV download must hold the CLI's rows; a reload from the URL must
// give the same view. Screenshots of each view go to docs/screenshots/.
//   npx vitest run --config test/browser/vitest.config.ts test/browser/dashboard.test.ts
// ARITHLENS_SKIP_BUILD=1 reuses an existing build/.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFixture } from '../engine/fixtures';
import { launchChromium } from './harness/browser';
import { REPO } from './harness/build';
import { serveStatic, type StaticServer } from './dashboardServer';
import { headScores, maxDiff, openDashboard, runScan, shownPattern, waitForModel, waitForScan } from './dashboardPage';

const BUILD = join(REPO, 'build');
const SHOTS = join(REPO, 'docs/screenshots');
const TOL = 1e-4;
const TINY = '/test/fixtures/models/tiny-gpt2';

let server: StaticServer;
let browser: Awaited<ReturnType<typeof launchChromium>>;
const pageErrors: string[] = [];
const foreignRequests: string[] = [];

beforeAll(async () => {
	if (!process.env.ARITHLENS_SKIP_BUILD || !existsSync(join(BUILD, 'index.html')))
		execFileSync('npm', ['run', 'build'], { cwd: REPO, stdio: 'pipe' });
	server = await serveStatic([
		['/test/fixtures/', join(REPO, 'test/fixtures')],
		['/', BUILD]
	]);
	browser = await launchChromium();
	browser.context.on('request', (r) => void (r.url().startsWith(server.url) || r.url().startsWith('blob:') || r.url().startsWith('data:') || foreignRequests.push(r.url())));
	mkdirSync(SHOTS, { recursive: true });
});

afterAll(async () => {
	await browser?.close();
	await server?.close();
});

async function newPage(scheme: 'light' | 'dark' = 'light'): Promise<Page> {
	const page = await browser.context.newPage();
	await page.setViewportSize({ width: 1400, height: 1000 });
	await page.emulateMedia({ colorScheme: scheme });
	page.on('pageerror', (e) => void pageErrors.push(e.message));
	return page;
}

/** The fixture's prompts as a JSONL file, to upload through the prompt-file input. */
function fixturePromptFile(name: string): string {
	const manifest = JSON.parse(readFileSync(join(REPO, `test/fixtures/${name}.json`), 'utf8')) as { prompts: unknown[] };
	const file = join(mkdtempSync(join(tmpdir(), 'arithlens-prompts-')), `${name}.jsonl`);
	writeFileSync(file, manifest.prompts.map((p) => JSON.stringify(p)).join('\n') + '\n');
	return file;
}

async function uploadPrompts(page: Page, file: string): Promise<void> {
	await page.getByTestId('prompt-file').setInputFiles(file);
	await page.getByText(/Using .*\.jsonl/).waitFor();
}

/** Scores the page shows for heads, in layer-major order, and for MLP layers. */
async function shownScores(page: Page): Promise<{ heads: number[]; mlps: number[] }> {
	const heads = (await headScores(page)).sort((a, b) => a.layer - b.layer || a.head - b.head).map((c) => c.score);
	const mlps = (await headScores(page, 'mlp-cell')).sort((a, b) => a.layer - b.layer).map((c) => c.score);
	return { heads, mlps };
}

function expectClose(label: string, shown: number[], expected: number[]): void {
	const d = maxDiff(shown, expected);
	console.log(`${label}: max |diff| ${d.toExponential(2)} over ${expected.length} values`);
	expect(shown.length, `${label}: count`).toBe(expected.length);
	expect(d, `${label}: max |diff| ${d} > ${TOL}\n shown    ${shown.join(' ')}\n expected ${expected.join(' ')}`).toBeLessThanOrEqual(TOL);
}

describe('dashboard (built app, headless Chromium)', () => {
	it('builds to a static site with one onnxruntime-web, its .wasm on our origin and no CDN URL', () => {
		const files = (dir: string): string[] =>
			readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? files(join(dir, f)) : [join(dir, f)]));
		const all = files(join(BUILD, '_app'));
		const js = all.filter((f) => f.endsWith('.js')).map((f) => readFileSync(f, 'utf8'));
		// a string only onnxruntime-web's bundle contains, once per copy
		expect(js.reduce((n, code) => n + (code.match(/ort-wasm-proxy-worker/g)?.length ?? 0), 0)).toBe(1);
		expect(all.filter((f) => f.endsWith('.wasm')).map((f) => f.replace(/.*\//, '').replace(/-[\w-]{8}\.wasm$/, '.wasm'))).toEqual([
			'ort-wasm-simd-threaded.asyncify.wasm'
		]);
		const urls = js.flatMap((code) => code.match(/https?:\/\/[^\s'"`)\\]+/g) ?? []);
		expect(urls.filter((u) => /jsdelivr|unpkg|cdnjs|esm\.sh|skypack|jspm/.test(u))).toEqual([]);
		expect(existsSync(join(BUILD, 'models/index.json')), 'bundled model index copied into the build').toBe(true);
	});

	it('tiny-gpt2 on WASM: a mean-ablation scan shows the reference scores, and a clicked head its reference pattern', async () => {
		const fx = readFixture('tiny-gpt2');
		const page = await newPage();
		await openDashboard(page, server.url, `?model=url:${TINY}&backend=wasm&task=add:2`);
		expect(await page.getByTestId('backend').getAttribute('data-backend')).toBe('wasm');
		await uploadPrompts(page, fixturePromptFile('tiny-gpt2'));
		await runScan(page, 'mean');
		const shown = await shownScores(page);
		expectClose('wasm mean heads vs reference', shown.heads, Array.from(fx.float('scan.mean.heads.logprob').data));
		expectClose('wasm mean MLPs vs reference', shown.mlps, Array.from(fx.float('scan.mean.mlps.logprob').data));

		await page.locator('[data-testid="head-cell"][data-layer="1"][data-head="2"]').click();
		await page.getByTestId('attention-pattern').waitFor();
		await expect.poll(() => page.getByRole('heading', { name: 'Head L1.H2' }).count()).toBe(1);
		const pattern = await shownPattern(page);
		// The capture ran the prompt's T tokens; the page runs prompt + answer, and by causality its first
		// T rows and columns are the same numbers.
		const ref = fx.float('capture.0.blocks.1.attn.hook_pattern'); // [H, T, T], prompt 0 = the chosen prompt
		const T = ref.shape[1];
		expect(fx.manifest.tokens[0].length).toBe(T);
		expect(pattern.length, 'prompt + answer tokens shown').toBeGreaterThan(T);
		const expected = Array.from({ length: T * T }, (_, i) => ref.data[2 * T * T + i]);
		expectClose('attention pattern L1.H2 vs reference', pattern.slice(0, T).flatMap((row) => row.slice(0, T)), expected);
		await page.screenshot({ path: join(SHOTS, 'head-detail.png'), fullPage: true });
		await page.close();
	});

	it('tiny-gpt2 on WebGPU: the backend says WebGPU and the scores are the reference scores', async () => {
		const fx = readFixture('tiny-gpt2');
		const page = await newPage();
		await openDashboard(page, server.url, `?model=url:${TINY}&backend=webgpu&task=add:2`);
		expect(await page.getByTestId('backend').getAttribute('data-backend')).toBe('webgpu');
		await uploadPrompts(page, fixturePromptFile('tiny-gpt2'));
		await runScan(page, 'zero');
		const shown = await shownScores(page);
		expectClose('webgpu zero heads vs reference', shown.heads, Array.from(fx.float('scan.zero.heads.logprob').data));
		expect(await page.getByTestId('backend').getAttribute('data-backend'), 'still on WebGPU after the scan').toBe('webgpu');
		await page.close();
	});

	it('a link reproduces the view: reloading its URL gives the same model, task, method, scores and selection', async () => {
		const page = await newPage();
		await openDashboard(page, server.url, `?model=url:${TINY}&backend=wasm&task=add:2&n=24&seed=7`);
		await waitForScan(page);
		await page.getByTestId('top-k').fill('3');
		await page.getByTestId('top-k').dispatchEvent('change');
		await runScan(page, 'resample');
		await page.locator('[data-testid="head-cell"][data-layer="0"][data-head="1"]').click();
		await page.getByTestId('prompt-index').fill('4');
		await page.getByTestId('prompt-index').dispatchEvent('change');
		await expect.poll(() => new URL(page.url()).searchParams.get('prompt')).toBe('3');
		const url = page.url();
		const params = new URL(url).searchParams;
		expect(Object.fromEntries(params)).toMatchObject({ model: `url:${TINY}`, backend: 'wasm', task: 'add:2', n: '24', seed: '7', method: 'resample', head: '0.1', k: '3' });
		const before = await shownScores(page);
		const beforePattern = await shownPattern(page);

		const again = await newPage();
		await again.goto(url);
		await waitForModel(again);
		await waitForScan(again);
		expect(await again.getByTestId('scan-method').inputValue()).toBe('resample');
		expect(await again.getByTestId('task-spec').inputValue()).toBe('add:2');
		expect(await again.getByTestId('top-k').inputValue()).toBe('3');
		expect(await again.locator('[data-top-k]').count()).toBe(3);
		const after = await shownScores(again);
		expect(after.heads).toEqual(before.heads); // same inputs, same backend: bit-identical
		expect(after.mlps).toEqual(before.mlps);
		await again.getByTestId('attention-pattern').waitFor();
		expect(await shownPattern(again)).toEqual(beforePattern);
		expect(again.url()).toBe(url);
		await page.close();
		await again.close();
	});

	it('loaded nothing from another origin and threw no page errors', () => {
		expect(foreignRequests).toEqual([]);
		expect(pageErrors).toEqual([]);
	});
});
