// Parity of the engine in a real browser with the PyTorch reference: the harness page (harness/) runs
// the real core (urlSource loader, onnxruntime-web/webgpu runtime) in headless Chromium on WASM and
// on WebGPU (SwiftShader here), and its captures and intervention batches must equal the fixtures'
// tensors within the manifest's tolerance (1e-4), the F16/BF16 fixtures kept half. WASM covers every fixture, shipped models too;
// WebGPU (~75x slower on SwiftShader, ~7 s per tiny fixture here) covers the tiny fixtures, which
// span every family and option. Also checks the bundle: one onnxruntime-web, no CDN URL, every
// request to our own origin. And one F32 fixture per family loaded as F16 (precision 'float16'): the
// page's captures equal onnxruntime-node's on the same F16 weights (1e-4), on WASM and WebGPU.
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Family } from '../../src/lib/core/model/spec';
import { folderSource } from '../../src/cli/node-source';
import type { HookName } from '../../src/lib/core/model/hooks';
import { loadModel } from '../../src/lib/core/model/index';
import { createNodeEngine } from '../../src/lib/core/runtime/node';
import { fixtureNames, maxAbsDiff, readFixture, unbatch, type Fixture } from '../engine/fixtures';
import { launchChromium } from './harness/browser';
import { buildHarness, REPO, type HarnessBuild } from './harness/build';
import type { Harness, ParityRequest, ParityResult, PlainTensor } from './harness/main';
import { serveHarness, type HarnessServer } from './harness/server';

const FIXTURES = fixtureNames();
const isTiny = (name: string) => readFixture(name).manifest.model.startsWith('test/fixtures/models/');
const WEBGPU_FIXTURES = FIXTURES.filter(isTiny);
const FAMILIES: Family[] = ['gpt2', 'llama', 'qwen2', 'gpt_neox', 'transformer_lens'];
// Hosts that serve npm packages or models; the bundle must not fetch from any of them.
const CDN = /jsdelivr|unpkg|cdnjs|esm\.sh|skypack|jspm|staticfile|huggingface\.co|\bcdn\./i;

let harness: HarnessBuild;
let server: HarnessServer;
let browser: Awaited<ReturnType<typeof launchChromium>>;
let page: Page;
const requested: string[] = [];
const pageErrors: string[] = [];

beforeAll(async () => {
	harness = await buildHarness();
	server = await serveHarness([
		['/test/fixtures/models/', join(REPO, 'test/fixtures/models')],
		['/models/', join(REPO, 'models')],
		['/', harness.dir]
	]);
	browser = await launchChromium();
	browser.context.on('request', (r) => void requested.push(r.url()));
	page = browser.context.pages()[0] ?? (await browser.context.newPage());
	page.on('pageerror', (e) => void pageErrors.push(e.message));
	await page.goto(`${server.origin}/`);
	await page.waitForFunction(() => (window as unknown as { harness?: Harness }).harness?.ready === true);
});

afterAll(async () => {
	await browser?.close();
	await server?.close();
});

function request(fx: Fixture, backend: ParityRequest['backend']): ParityRequest {
	const plain = (key: string): PlainTensor => {
		const t = fx.float(key);
		return { data: Array.from(t.data), shape: t.shape };
	};
	return {
		model: fx.manifest.model,
		backend,
		captures: fx.manifest.captures.map(({ prompt, hooks }) => ({ tokens: fx.manifest.tokens[prompt], hooks })),
		interventions: Object.entries(fx.manifest.interventions).map(([method, { inputs }]) => ({
			tokens: fx.int(`iv.${method}.tokens`),
			inputs: Object.fromEntries(inputs.map((key) => [key, plain(`iv.${method}.${key}`)]))
		}))
	};
}

const typed = (t: PlainTensor) => ({ data: Float32Array.from(t.data), shape: t.shape });

/** Runs the fixture in the page and checks every tensor; prints the largest differences. */
async function checkParity(name: string, backend: ParityRequest['backend']): Promise<ParityResult> {
	const fx = readFixture(name);
	const tol = fx.manifest.tolerance;
	const result = await page.evaluate((req) => (window as unknown as { harness: Harness }).harness.parity(req), request(fx, backend));
	expect(pageErrors, 'uncaught errors in the page').toEqual([]);

	const diffs: [label: string, diff: number][] = [];
	fx.manifest.captures.forEach(({ prompt, hooks }, i) => {
		const { logits, cache } = result.captures[i];
		diffs.push([`capture.${prompt}.logits`, maxAbsDiff(unbatch(typed(logits)), fx.float(`capture.${prompt}.logits`))]);
		for (const hook of hooks) {
			expect(cache[hook], `${name} capture.${prompt}: ${hook} missing`).toBeDefined();
			diffs.push([`capture.${prompt}.${hook}`, maxAbsDiff(unbatch(typed(cache[hook])), fx.float(`capture.${prompt}.${hook}`))]);
		}
	});
	Object.keys(fx.manifest.interventions).forEach((method, i) =>
		diffs.push([`iv.${method}`, maxAbsDiff(typed(result.interventions[i]), fx.float(`iv.${method}.logits`))])
	);

	const worstCapture = diffs.filter(([l]) => l.startsWith('capture.')).reduce((a, b) => (b[1] > a[1] ? b : a));
	const ivs = diffs.filter(([l]) => l.startsWith('iv.')).map(([l, d]) => `${l.slice(3)} ${d.toExponential(2)}`);
	const ms = result.milliseconds;
	console.log(
		`${backend} ${name}: captures max |diff| ${worstCapture[1].toExponential(2)} (${worstCapture[0]}); interventions ${ivs.join(', ')}` +
			` [load ${ms.load.toFixed(0)} ms, engine ${ms.engine.toFixed(0)} ms, runs ${ms.runs.toFixed(0)} ms]`
	);
	for (const [label, d] of diffs) expect(d, `${backend} ${name} ${label}: max |diff| ${d} > ${tol}`).toBeLessThanOrEqual(tol);
	return result;
}

describe('browser parity (headless Chromium)', () => {
	it('finds the fixtures, and those run on WebGPU cover every family', () => {
		expect(WEBGPU_FIXTURES.length).toBeGreaterThanOrEqual(13);
		const families = new Set(WEBGPU_FIXTURES.map((n) => (readFixture(n).manifest as unknown as { spec: { family: Family } }).spec.family));
		expect([...families].sort()).toEqual([...FAMILIES].sort());
	});

	it('bundles the real core with exactly one onnxruntime-web (the WebGPU build) and no CDN URL', () => {
		const ortModules = harness.moduleIds.filter((id) => /[\\/]node_modules[\\/]onnxruntime-/.test(id));
		expect(ortModules.map((id) => id.replace(/.*node_modules[\\/]/, ''))).toEqual(['onnxruntime-web/dist/ort.webgpu.bundle.min.mjs']);
		for (const core of ['src/lib/core/runtime/web.ts', 'src/lib/core/runtime/engine.ts', 'src/lib/core/model/sources.ts', 'src/lib/core/graph/forward.ts'])
			expect(harness.moduleIds.some((id) => id.endsWith(core)), core).toBe(true);
		const urls = [...harness.js.values()].flatMap((code) => code.match(/https?:\/\/[^\s'"`)\\]+/g) ?? []);
		expect(urls.filter((u) => CDN.test(u)), 'CDN URLs in the bundle').toEqual([]);
		expect(urls.filter((u) => /\.(wasm|mjs)\b/.test(u)), 'remote runtime files in the bundle').toEqual([]);
		expect(harness.ortFiles).toContain('ort-wasm-simd-threaded.asyncify.wasm');
	});

	it('the page gets a WebGPU adapter', async () => {
		const adapter = await page.evaluate(() => (window as unknown as { harness: Harness }).harness.gpuAdapter());
		console.log('WebGPU adapter:', JSON.stringify(adapter));
		expect(adapter, 'navigator.gpu.requestAdapter() gave no adapter (is --enable-unsafe-webgpu set?)').not.toBeNull();
	});

	describe.each(FIXTURES)('wasm %s', (name) => {
		it('captures and intervention batches match the reference', async () => {
			const result = await checkParity(name, 'wasm');
			expect(result.backend).toBe('wasm');
		});
	});

	describe.each(WEBGPU_FIXTURES)('webgpu %s', (name) => {
		it('captures and intervention batches match the reference, on WebGPU (no fallback)', async () => {
			const result = await checkParity(name, 'webgpu');
			expect(result.fallbackReason, 'the engine fell back from WebGPU').toBeNull();
			expect(result.backend).toBe('webgpu');
		});
	});

	// one F32 fixture of each family, narrowed to F16 on load in the page and in Node (qwen2's only tiny
	// fixture is stored BF16, and runs half above)
	const HALF_FIXTURES = FAMILIES.flatMap((f) => WEBGPU_FIXTURES.find((n) => !/-b?f16/.test(n) && (readFixture(n).manifest as unknown as { spec: { family: Family } }).spec.family === f) ?? []);
	describe.each(HALF_FIXTURES.flatMap((n) => [['wasm', n], ['webgpu', n]] as const))('%s %s loaded as float16', (backend, name) => {
		it("captures equal onnxruntime-node's on the same F16 weights", async () => {
			const fx = readFixture(name);
			const req = { ...request(fx, backend), precision: 'float16' as const, interventions: [] };
			const result = await page.evaluate((r) => (window as unknown as { harness: Harness }).harness.parity(r), req);
			expect(result.backend).toBe(backend);
			const node = await createNodeEngine(await loadModel(folderSource(fx.modelDir), { precision: 'float16' }));
			try {
				let worst = 0;
				for (const [i, { tokens, hooks }] of req.captures.entries()) {
					const want = await node.run([tokens], { hooks: hooks as HookName[] });
					worst = Math.max(worst, maxAbsDiff(typed(result.captures[i].logits), want.logits));
					for (const h of hooks) worst = Math.max(worst, maxAbsDiff(typed(result.captures[i].cache[h]), want.cache.get(h as HookName)!));
				}
				console.log(`${backend} ${name} float16: captures vs onnxruntime-node max |diff| ${worst.toExponential(2)}`);
				expect(worst).toBeLessThanOrEqual(fx.manifest.tolerance);
			} finally {
				await node.dispose();
			}
		});
	});

	it('loaded everything from our own origin, the onnxruntime files from /ort/', () => {
		expect(requested.filter((u) => !u.startsWith(`${server.origin}/`))).toEqual([]);
		const ort = server.requests.filter((r) => /ort-wasm/.test(r.path));
		expect(ort.length).toBeGreaterThan(0);
		expect(ort.filter((r) => !r.path.startsWith('/ort/') || r.status !== 200)).toEqual([]);
	});
});
