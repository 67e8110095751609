// Builds the parity harness page with Vite's JS API (not the SvelteKit app) into a temporary folder,
// and copies the onnxruntime-web runtime files the bundle asks for (.wasm and its .mjs loader) from
// node_modules/onnxruntime-web/dist under ort/, so the page loads them from our own origin. Returns
// the bundle's module ids and emitted JS for the bundle checks. ensureAppBuild builds the SvelteKit app
// the dashboard tests serve.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Rollup } from 'vite';

const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO = join(HERE, '../../..');
const ORT_DIST = join(REPO, 'node_modules/onnxruntime-web/dist');
/** The SvelteKit app's static build (npm run build). */
export const APP_BUILD = join(REPO, 'build');

/** Builds the app, unless ARITHLENS_SKIP_BUILD is set and a build is there to reuse. */
export function ensureAppBuild(): void {
	if (!process.env.ARITHLENS_SKIP_BUILD || !existsSync(join(APP_BUILD, 'index.html')))
		execFileSync('npm', ['run', 'build'], { cwd: REPO, stdio: 'pipe' });
}

export interface HarnessBuild {
	dir: string;
	/** Every source module in the bundle (absolute paths). */
	moduleIds: string[];
	/** The emitted JavaScript, file name -> code. */
	js: Map<string, string>;
	/** The runtime files copied to ort/. */
	ortFiles: string[];
}

export async function buildHarness(): Promise<HarnessBuild> {
	const dir = mkdtempSync(join(tmpdir(), 'arithlens-harness-'));
	const output = (await build({
		root: HERE,
		configFile: false,
		logLevel: 'warn',
		base: './',
		build: { outDir: dir, emptyOutDir: true, target: 'esnext', minify: false, reportCompressedSize: false }
	})) as Rollup.RollupOutput | Rollup.RollupOutput[];
	const chunks = (Array.isArray(output) ? output : [output]).flatMap((o) => o.output);
	const moduleIds: string[] = [];
	const js = new Map<string, string>();
	for (const c of chunks) {
		if (c.type !== 'chunk') continue;
		moduleIds.push(...c.moduleIds);
		js.set(c.fileName, c.code);
	}
	// The runtime file names the bundled onnxruntime-web refers to (with wasmPaths it loads them by name).
	const named = new Set([...js.values()].flatMap((code) => code.match(/ort-wasm-simd-threaded[\w.]*?\.(?:wasm|mjs)/g) ?? []));
	const ortFiles = readdirSync(ORT_DIST).filter((f) => named.has(f));
	mkdirSync(join(dir, 'ort'));
	for (const f of ortFiles) copyFileSync(join(ORT_DIST, f), join(dir, 'ort', f));
	return { dir, moduleIds, js, ortFiles };
}
