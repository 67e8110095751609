// `arithlens capture`: flag parsing and file output only; captureText (../capture.ts) computes.
import { readFileSync } from 'node:fs';
import { portableName } from '../../lib/core/export/provenance';
import { hookNameGroups } from '../../lib/core/model/hooks';
import { loadModel } from '../../lib/core/model/index';
import { captureText, encodePrompt, selectHooks } from '../capture';
import { CLI_BACKENDS, type CliBackend } from '../engines';
import { InputError, parseFlags } from '../errors';
import { checkOutputs } from '../experiment-inputs';
import { DEFAULT_HUB_HOST, MAX_MEMORY_HELP, maxMemoryBytes, resolveModelSource, weightPrecision } from '../model-source';
import { encodeCaptureJson, encodeSafetensors, formatOf, writeFileAtomic } from '../output';
import { stderrProgress } from '../progress';
import { prettyJson, tensorStats, topPredictions } from '../summary';

/** The hook names (model/hooks.ts) under --hooks, wrapped at 100 columns; logits are always written. */
const HOOK_LIST = wrapList(hookNameGroups().filter((g) => g !== 'logits'), ' '.repeat(27), 100);

function wrapList(items: string[], indent: string, width: number): string {
	const lines: string[] = [];
	let line = '';
	items.forEach((item, i) => {
		const next = item + (i < items.length - 1 ? ',' : '');
		if (line && indent.length + line.length + 1 + next.length > width) {
			lines.push(line);
			line = next;
		} else line = line ? `${line} ${next}` : next;
	});
	return [...lines, line].map((l) => indent + l).join('\n');
}

export const HELP = `Usage: arithlens capture --model <dir|owner/name> --text <prompt> --out <file> [options]

Runs the model once on the prompt and writes its logits and the requested hook activations.

Options:
  -m, --model <dir|id>     model folder (Hugging Face or TransformerLens layout); when no such
                           path exists, a hub id (owner/name) downloaded from --hub-host
  -t, --text <prompt>      the prompt, e.g. "12+34=" (the tokenizer adds its special tokens);
                           a prompt starting with '-' needs --text=-1+2=
      --hooks <list>       comma-separated hook names or globs ('*' matches any characters),
                           e.g. 'blocks.*.attn.hook_pattern,blocks.0.hook_resid_post' or '*';
                           default: none (logits only). Names as in TransformerLens:
${HOOK_LIST}
      --revision <rev>     hub branch, tag or commit (default: main); hub ids only
      --hub-host <url>     hub to download from (default: ${DEFAULT_HUB_HOST}); hub ids only
      --backend <name>     node (onnxruntime-node, default) or wasm (onnxruntime-web, as in the browser)
${MAX_MEMORY_HELP}
  -o, --out <file>         .safetensors or .json; written only when the whole run succeeds
      --json               print a JSON summary to stdout: per tensor shape and min/max/mean,
                           the top next-token predictions
  -h, --help               this help

Output: 'logits' [T,V] and every requested hook under its own name, batch dimension dropped
(e.g. blocks.0.attn.hook_pattern [H,T,T]), float32.
  .safetensors  metadata (__metadata__, strings): tokens and token_strings as JSON arrays, text,
                model, revision, weights_sha256, backend, arithlens (version)
  .json         {"tokens": [...], "token_strings": [...], "metadata": {...},
                 "tensors": {"<name>": {"shape": [...], "data": [row-major values]}}};
                ±Infinity and NaN (hook_attn_scores is -Infinity above the diagonal) are
                written as the strings "Infinity", "-Infinity", "NaN"

Exit status: 0 success, 2 bad input (unknown flag, missing model, hook pattern matching nothing,
a prompt the tokenizer cannot encode...) with the reason on stderr, 1 any other failure.

Example:
  arithlens capture --model models/add-3d --text "123+456=" --hooks 'blocks.*.attn.hook_pattern' --out add.safetensors --json
`;

const FLAGS = {
	model: { type: 'string', short: 'm' },
	text: { type: 'string', short: 't' },
	hooks: { type: 'string' },
	revision: { type: 'string' },
	'hub-host': { type: 'string' },
	backend: { type: 'string' },
	'max-memory': { type: 'string' },
	precision: { type: 'string' },
	out: { type: 'string', short: 'o' },
	json: { type: 'boolean' },
	help: { type: 'boolean', short: 'h' }
} as const;

const VERSION: string = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')).version;

function required(value: string | undefined, flag: string): string {
	if (value === undefined) throw new InputError(`missing --${flag} (see 'arithlens capture --help')`);
	return value;
}

export async function run(argv: string[]): Promise<number> {
	const flags = parseFlags('capture', argv, FLAGS);
	if (flags.help) {
		process.stdout.write(HELP);
		return 0;
	}
	const model = required(flags.model, 'model');
	const text = required(flags.text, 'text');
	const out = required(flags.out, 'out');
	const format = formatOf(out);
	if (!format) throw new InputError(`--out: '${out}' must end in .safetensors or .json`);
	checkOutputs({ out }, { model });
	const backend = (flags.backend ?? 'node') as CliBackend;
	if (!Object.hasOwn(CLI_BACKENDS, backend)) throw new InputError(`--backend: '${backend}' is not one of ${Object.keys(CLI_BACKENDS).join(', ')}`);
	const maxBytes = maxMemoryBytes(flags['max-memory']);
	const precision = weightPrecision(flags.precision);
	const { source, remote } = resolveModelSource({ model, revision: flags.revision, hubHost: flags['hub-host'] });

	const progress = stderrProgress();
	const { loaded, capture, engineBackend } = await (async () => {
		try {
			progress.step(`loading ${source.id}${source.revision ? ` @ ${source.revision}` : ''}`);
			const loaded = await loadModel(source, { onProgress: remote ? progress.download : undefined, maxBytes, precision });
			const hooks = selectHooks(loaded.spec, flags.hooks);
			const tokens = encodePrompt(loaded, text);
			progress.step(`building the ${loaded.spec.family} graph on ${backend} (${hooks.length} hooks)`);
			const engine = await CLI_BACKENDS[backend](loaded);
			try {
				return { loaded, capture: await captureText(engine, loaded.tokenizer, tokens, hooks), engineBackend: engine.backend };
			} finally {
				await engine.dispose();
			}
		} finally {
			progress.done();
		}
	})();

	const metadata: Record<string, string> = {
		tokens: JSON.stringify(capture.tokens),
		token_strings: JSON.stringify(capture.tokenStrings),
		text,
		model: portableName(loaded.source.id), // a local folder's name, not its path on this machine
		...(loaded.source.revision ? { revision: loaded.source.revision } : {}),
		...(loaded.source.weightsSha256 ? { weights_sha256: loaded.source.weightsSha256 } : {}),
		backend: engineBackend,
		arithlens: VERSION
	};
	writeFileAtomic(out, format === 'safetensors' ? encodeSafetensors(capture.tensors, metadata) : encodeCaptureJson(capture, metadata), 'out');

	const top = topPredictions(capture.tensors.get('logits')!, loaded.tokenizer);
	if (flags.json) {
		const tensors = Object.fromEntries([...capture.tensors].map(([name, t]) => [name, tensorStats(t)]));
		const summary = { out, format, ...metadata, tokens: capture.tokens, token_strings: capture.tokenStrings, tensors, top };
		process.stdout.write(prettyJson(summary) + '\n');
	} else {
		const next = top.map((p) => `${JSON.stringify(p.text)} ${(100 * p.prob).toFixed(1)}%`).join(', '); // text, not vocabulary strings (Ġ, ▁)
		process.stdout.write(`wrote ${capture.tensors.size} tensor${capture.tensors.size === 1 ? '' : 's'} for ${capture.tokens.length} tokens to ${out}\nnext token: ${next}\n`);
	}
	return 0;
}
