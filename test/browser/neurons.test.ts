// The Neurons panel (DESIGN §10) end to end in headless Chromium on WASM: on a modular model folder
// (models/mod-97 when it is there, else the one-layer stand-in at $ARITHLENS_MODULAR_STANDIN, default
// /tmp/nl/rand, copied to a temp dir with two checkpoints) and its all.jsonl, the IPRs, χ and pruned
// accuracies the page shows equal `arithlens neurons`; dragging χ prunes again (equal to the CLI's
// --prune-below), and so does zeroing instead of the mean (--ablation zero); the checkpoints' IPR
// quartiles come from the worker; a non-modular set, a file without meta and a layer out of range each
// give a one-line message. Screenshot: docs/screenshots/neurons.png.
//   npx vitest run --config test/browser/vitest.config.ts test/browser/neurons.test.ts
// ARITHLENS_SKIP_BUILD=1 reuses an existing build/.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { launchChromium } from './harness/browser';
import { APP_BUILD, ensureAppBuild, REPO } from './harness/build';
import { serveStatic, type StaticServer } from './dashboardServer';
import { openDashboard, waitForScan } from './dashboardPage';
import { tempDir } from '../tempDir';

const TOL = 1e-4;
const SHIPPED = join(REPO, 'models/mod-97');
const STANDIN = process.env.ARITHLENS_MODULAR_STANDIN ?? '/tmp/nl/rand';
const SOURCE = existsSync(join(SHIPPED, 'all.jsonl')) ? SHIPPED : STANDIN;
const STEPS = [100, 200];

let server: StaticServer;
let browser: Awaited<ReturnType<typeof launchChromium>>;
let folder: string;
const pageErrors: string[] = [];

/** The model folder served to the page; the stand-in gets two checkpoints (copies of itself) and a training log. */
function fixture(): string {
	if (SOURCE === SHIPPED && existsSync(join(SHIPPED, 'train_meta.json'))) return SHIPPED;
	const dir = tempDir('arithlens-neurons-');
	const modelFiles = readdirSync(SOURCE).filter((f) => !f.endsWith('.jsonl'));
	for (const f of readdirSync(SOURCE)) copyFileSync(join(SOURCE, f), join(dir, f));
	for (const step of STEPS) {
		mkdirSync(join(dir, 'checkpoints', `step-${step}`), { recursive: true });
		for (const f of modelFiles) copyFileSync(join(SOURCE, f), join(dir, 'checkpoints', `step-${step}`, f));
	}
	writeFileSync(join(dir, 'train_meta.json'), JSON.stringify({ checkpoints: STEPS }));
	const log = [0, 100, 200, 300].map((step, i) => ({ step, loss: 4 - i, train_clean: 0.2 * i, train_corrupted: 0.1 * i, train_corrupted_true: 0.05 * i, test: 0.15 * i }));
	writeFileSync(join(dir, 'training_log.json'), JSON.stringify({ groups: ['train_clean', 'train_corrupted', 'train_corrupted_true', 'test'], log }));
	return dir;
}

/** `arithlens neurons --json` on the served folder and its all.jsonl. */
function cli(extra: string[] = []) {
	const out = join(tempDir('arithlens-neurons-cli-'), 'neurons.json');
	execFileSync(process.execPath, [join(REPO, 'bin/arithlens.js'), 'neurons', '--model', folder, '--prompts', join(folder, 'all.jsonl'), '--sweep-steps', '0', ...extra, '--json', out], { cwd: REPO, stdio: 'pipe' });
	return JSON.parse(readFileSync(out, 'utf8'));
}

beforeAll(async () => {
	ensureAppBuild();
	folder = fixture();
	server = await serveStatic([['/fixture/', folder], ['/', APP_BUILD]]);
	browser = await launchChromium();
});

afterAll(async () => {
	await browser?.close();
	await server?.close();
});

type Group = { group: string; before: number; after: number; n: number };
const pruneRows = (page: Page) =>
	page.getByTestId('neurons-prune').locator('tr[data-group]').evaluateAll((trs) =>
		trs.map((tr) => ({ group: tr.getAttribute('data-group')!, before: Number(tr.getAttribute('data-before')), after: Number(tr.getAttribute('data-after')), n: Number(tr.getAttribute('data-n')) }))
	) as Promise<Group[]>;

function expectGroups(shown: Group[], cliGroups: Record<string, { before: number; after: number; n: number }>) {
	expect(shown.map((g) => g.group).sort()).toEqual(Object.keys(cliGroups).filter((g) => g !== 'all').sort());
	for (const g of shown) expect(g, g.group).toEqual({ group: g.group, ...cliGroups[g.group] });
}

const oneLine = async (page: Page, testId: string) => {
	const text = (await page.getByTestId(testId).textContent())!.trim();
	expect(text.includes('\n')).toBe(false);
	return text;
};

describe('Neurons panel', () => {
	it('shows the CLI lens and pruning, prunes again on a dragged χ, reads the checkpoints, and says why bad input does not apply', { timeout: 480_000 }, async () => {
		const want = cli();
		const page = await browser.context.newPage();
		await page.setViewportSize({ width: 1400, height: 1100 });
		page.on('pageerror', (e) => void pageErrors.push(e.message));
		// a digit task on the modular model: the panel says why the lens does not apply
		await openDashboard(page, server.url, '?model=url:/fixture/&backend=wasm&task=add:1:spaced&n=20');
		await waitForScan(page);
		// (digit records carry meta.a and meta.b too, and meta.op without meta.p: core's modularLayout refuses them as a digit task)
		expect(await oneLine(page, 'neurons-unavailable')).toMatch(/^Neuron lens: not a modular prompt set: record 1 \(".*"\) comes from a digit task \(meta.op 'add', no meta.p\); use a modular task such as add:p97$/);
		await expect(page.getByTestId('neurons-run').count()).resolves.toBe(0);

		// the modular set: the folder's all.jsonl, every pair with its split and corrupted labels
		await page.getByTestId('neurons-model-prompts').click();
		await page.waitForFunction(() => document.body.textContent?.includes('Using all.jsonl'), null, { timeout: 60_000 });
		await page.getByTestId('neurons-run').click();
		await page.getByTestId('neurons-prune').waitFor({ timeout: 240_000 });

		const chi = Number(await page.getByTestId('neurons-threshold').getAttribute('data-value'));
		expect(Math.abs(chi - want.threshold.value), `χ page ${chi}, CLI ${want.threshold.value}`).toBeLessThanOrEqual(TOL);
		const counts = page.getByTestId('neurons-counts');
		expect([await counts.getAttribute('data-below'), await counts.getAttribute('data-above'), await counts.getAttribute('data-dead')].map(Number)).toEqual([want.counts.memorizing, want.counts.generalizing, want.counts.dead]);
		const shown = await page.getByTestId('neurons-table').locator('tr[data-neuron]').evaluateAll((trs) =>
			trs.map((tr) => ({ key: `${tr.getAttribute('data-layer')}.${tr.getAttribute('data-neuron')}`, ipr: Number(tr.getAttribute('data-ipr')), freq: tr.getAttribute('data-freq'), share: Number(tr.getAttribute('data-share')) }))
		);
		const byKey = new Map<string, { ipr: number | null; freq: number[]; power_share: number | null }>(want.neurons.map((n: { layer: number; neuron: number }) => [`${n.layer}.${n.neuron}`, n]));
		expect(shown).toHaveLength(want.neurons.length);
		let maxDiff = 0;
		for (const n of shown) {
			const c = byKey.get(n.key)!;
			if (c.ipr === null) {
				expect(n.ipr, `dead neuron ${n.key}`).toBeNaN();
				continue;
			}
			maxDiff = Math.max(maxDiff, Math.abs(n.ipr - c.ipr));
			expect(Math.abs(n.ipr - c.ipr), `IPR of ${n.key}`).toBeLessThanOrEqual(TOL);
		}
		console.log(`IPR: ${shown.length} neurons, max |page − CLI| ${maxDiff.toExponential(2)}`);
		const prune = page.getByTestId('neurons-prune');
		expect(Number(await prune.getAttribute('data-pruned'))).toBe(want.prune.pruned.length);
		expectGroups(await pruneRows(page), want.prune.groups);

		// drag χ to the right: more neurons pruned, as the CLI prunes below the new χ
		const handle = page.getByTestId('ipr-threshold-handle');
		await handle.scrollIntoViewIfNeeded();
		const box = (await handle.boundingBox())!;
		await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
		await page.mouse.down();
		await page.mouse.move(box.x + box.width / 2 + 40, box.y + box.height / 2, { steps: 5 });
		await page.mouse.move(box.x + box.width / 2 + 80, box.y + box.height / 2, { steps: 5 });
		await page.mouse.up();
		await page.waitForFunction((old) => {
			const t = document.querySelector('[data-testid="neurons-prune"]')?.getAttribute('data-threshold');
			return t !== undefined && t !== null && Number(t) !== old;
		}, chi, { timeout: 120_000 });
		const dragged = Number(await prune.getAttribute('data-threshold'));
		expect(dragged).toBeGreaterThan(chi);
		await page.waitForFunction((c) => new URL(location.href).searchParams.get('chi') === String(c), dragged);
		const again = cli(['--prune-below', String(dragged), '--sweep-steps', '4']);
		expect(Number(await prune.getAttribute('data-pruned'))).toBe(again.prune.pruned.length);
		expect(again.prune.pruned.length).toBeGreaterThan(want.prune.pruned.length);
		expectGroups(await pruneRows(page), again.prune.groups);

		// the sweep: k lowest-IPR neurons pruned beside a seeded random order, as the CLI sweeps
		await page.getByTestId('sweep-steps').fill('4');
		await page.getByTestId('sweep-steps').dispatchEvent('change');
		await page.getByTestId('sweep-run').click();
		await page.getByTestId('sweep').waitFor({ timeout: 240_000 });
		const sweep = JSON.parse((await page.getByTestId('sweep').getAttribute('data-points'))!);
		expect(sweep).toEqual(again.sweep);

		// a neuron row selects it: its grid and spectrum, and the URL names it
		const row = page.getByTestId('neurons-table').locator('tr[data-neuron]').nth(200);
		const [layer, neuron] = [await row.getAttribute('data-layer'), await row.getAttribute('data-neuron')];
		await row.click();
		await page.waitForFunction((n) => document.querySelector('[data-testid="neurons-selected"]')?.getAttribute('data-neuron') === n, neuron);
		await page.waitForFunction((v) => new URL(location.href).searchParams.get('neuron') === v, `${layer}.${neuron}`);
		expect(await page.getByTestId('neuron-grid').getAttribute('data-p')).toBe(String(want.p));
		expect(await page.getByTestId('neuron-spectrum').getAttribute('data-p')).toBe(String(want.p));
		// the spectrum on a log scale by default, linear on request
		expect(await page.getByTestId('neuron-spectrum').getAttribute('data-scale')).toBe('log');
		await page.getByTestId('spectrum-log').uncheck();
		await page.waitForFunction(() => document.querySelector('[data-testid="neuron-spectrum"]')?.getAttribute('data-scale') === 'linear');
		await page.getByTestId('spectrum-log').check();
		await page.waitForFunction(() => document.querySelector('[data-testid="neuron-spectrum"]')?.getAttribute('data-scale') === 'log');

		// checkpoints (the stand-in's are copies of the final weights): their IPR quartiles are the CLI's
		await page.getByTestId('checkpoints-run').click();
		await page.getByTestId('checkpoints').waitFor({ timeout: 240_000 });
		const ck = JSON.parse((await page.getByTestId('checkpoints').getAttribute('data-values'))!) as { step: number; median: number; below: number; n: number }[];
		expect(ck.map((c) => c.step)).toEqual(SOURCE === STANDIN ? STEPS : ck.map((c) => c.step));
		if (SOURCE === STANDIN) {
			const live = want.neurons.map((n: { ipr: number | null }) => n.ipr).filter((v: number | null): v is number => v !== null).sort((a: number, b: number) => a - b);
			const median = (live[(live.length - 1) >> 1] + live[live.length >> 1]) / 2;
			for (const c of ck) {
				expect(c.n).toBe(live.length);
				expect(Math.abs(c.median - median), `median IPR at step ${c.step}`).toBeLessThanOrEqual(TOL);
				expect(c.below).toBe(again.prune.pruned.length / live.length);
			}
		}

		mkdirSync(join(REPO, 'docs/screenshots'), { recursive: true });
		await page.locator('section[aria-labelledby="neurons-heading"]').screenshot({ path: join(REPO, 'docs/screenshots/neurons.png') });

		// zeroing instead of the mean: pruned again as `--ablation zero` prunes, the sweep cleared, the URL says so
		expect(await prune.getAttribute('data-ablation')).toBe('mean');
		await page.getByTestId('neurons-ablation').selectOption('zero');
		await page.waitForFunction(() => document.querySelector('[data-testid="neurons-prune"]')?.getAttribute('data-ablation') === 'zero', null, { timeout: 120_000 });
		await page.waitForFunction(() => new URL(location.href).searchParams.get('prune') === 'zero');
		expect(await page.getByTestId('sweep').count()).toBe(0);
		const zeroed = cli(['--prune-below', String(dragged), '--ablation', 'zero']);
		expect(zeroed.prune.ablation).toBe('zero');
		expectGroups(await pruneRows(page), zeroed.prune.groups);

		// a layer out of range: one line, from the worker
		await page.getByTestId('neurons-layer').fill('5');
		await page.getByTestId('neurons-layer').dispatchEvent('change');
		await page.getByTestId('neurons-run').click();
		await page.getByTestId('neurons-error').waitFor({ timeout: 60_000 });
		expect(await oneLine(page, 'neurons-error')).toBe('layer 5 is not a block of this model (0 to 0)');

		// the task builder's modular kind: the spec of p = 97 and n = every pair
		await page.getByRole('button', { name: 'Use the task builder' }).click();
		await page.getByTestId('task-kind').selectOption('modular');
		await page.waitForFunction(() => (document.querySelector('[data-testid="task-spec"]') as HTMLInputElement | null)?.value === 'add:p97');
		expect(await page.getByTestId('task-n').inputValue()).toBe('9409');
		await page.getByTestId('task-xi').fill('0.1');
		await page.getByTestId('task-xi').dispatchEvent('change');
		await page.waitForFunction(() => new URL(location.href).searchParams.get('task') === 'add:p97:xi=0.1' && new URL(location.href).searchParams.get('n') === '9409');

		// a prompt file without meta: the panel says why
		const bare = join(tempDir('arithlens-neurons-bare-'), 'bare.jsonl');
		writeFileSync(bare, ['3 + 4 =|| 7', '5 + 6 =|| 11'].map((l) => JSON.stringify({ prompt: l.split('||')[0], answer: l.split('||')[1] })).join('\n') + '\n');
		await page.getByTestId('prompt-file').setInputFiles(bare);
		await page.waitForFunction(() => document.querySelector('[data-testid="neurons-unavailable"]')?.textContent?.includes('meta.a'), null, { timeout: 60_000 });
		expect(await oneLine(page, 'neurons-unavailable')).toMatch(/^Neuron lens: not a modular prompt set: record 1 \("3 \+ 4 ="\) has no integer meta\.a and meta\.b/);
		await page.close();
		expect(pageErrors).toEqual([]);
	});
});
