// Headless system Chromium for the dashboard tests: a fresh profile per launch, no network beyond
// 127.0.0.1 (background services off), WebGPU enabled (a SwiftShader software adapter headless).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
	'--no-sandbox',
	'--disable-background-networking',
	'--disable-component-update',
	'--disable-sync',
	'--disable-quic',
	'--no-first-run',
	'--enable-unsafe-webgpu'
];

export interface Launched {
	context: BrowserContext;
	close(): Promise<void>;
}

export async function launchChromium(options: { viewport?: { width: number; height: number } } = {}): Promise<Launched> {
	const profile = mkdtempSync(join(tmpdir(), 'arithlens-chromium-'));
	const context = await chromium.launchPersistentContext(profile, {
		executablePath: CHROMIUM,
		headless: true,
		args: CHROMIUM_ARGS,
		acceptDownloads: true,
		viewport: options.viewport ?? { width: 1400, height: 1000 }
	});
	return {
		context,
		async close() {
			await context.close();
			rmSync(profile, { recursive: true, force: true });
		}
	};
}
