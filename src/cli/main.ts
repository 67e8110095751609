// Entry of `npx arithlens` (bin/arithlens.js): picks the command and turns errors into exit codes, 2 with
// a one-line reason for bad input, 1 with a one-line reason for anything else (the stack too with
// ARITHLENS_DEBUG=1). Commands load on demand so --help answers without loading onnxruntime.
import { EXIT, InputError, isBadInput } from './errors';
import { removePendingFiles } from './output';

interface Command {
	summary: string;
	load(): Promise<{ HELP: string; run(argv: string[]): Promise<number> }>;
}

const COMMANDS: Record<string, Command> = {
	capture: {
		summary: 'run a prompt once; write its logits and hook activations (.safetensors or .json)',
		load: () => import('./commands/capture')
	},
	eval: { summary: 'exact-match accuracy and answer logprob on a prompt file or task', load: () => import('./commands/eval') },
	scan: { summary: 'score every head and MLP (ablation, patching, path patching); JSON/CSV head table', load: () => import('./commands/scan') },
	plan: { summary: "turn a scan's top heads into a LoRA config or a precise-SFT head mask", load: () => import('./commands/plan') },
	circuit: { summary: 'faithfulness of the top heads: set ablated, set alone, random sets of the same size', load: () => import('./commands/circuit') },
	attribute: { summary: 'direct logit attribution per head, MLP and embedding, and the logit lens, per answer position', load: () => import('./commands/attribute') },
	edges: { summary: 'head-to-head path patching: edge scores sender -> receiver and the circuit graph (JSON/CSV/SVG)', load: () => import('./commands/edges') },
	neurons: { summary: 'neuron lens: IPR and frequency of every MLP neuron on a modular task, pruning by IPR, neuron importance', load: () => import('./commands/neurons') },
	subtasks: { summary: 'multiplication: accuracy and loss per answer digit and subtask, heads that hurt each digit', load: () => import('./commands/subtasks') }
};

const HELP = `Usage: arithlens <command> [options]

Interpretability of arithmetic circuits in small language models, from the command line.

Commands:
${Object.entries(COMMANDS)
	.map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`)
	.join('\n')}

  arithlens <command> --help   options of a command
  arithlens --version          the arithlens version

Models: a local folder (Hugging Face layout with config.json, model.safetensors, tokenizer.json;
or a TransformerLens folder) or a hub id (owner/name). Exit status: 0 success, 2 bad input, 1 failure.
`;

const oneLine = (s: string) => s.replace(/\s*\n\s*/g, ' ').trim();

const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143 } as const;
let installed = false;

/**
 * Once per process: on SIGINT / SIGTERM remove the temporary and lock files of a write in progress
 * (output.ts registers them) and exit 128 + the signal number; when stdout is a pipe closed early
 * (`arithlens eval ... | head`), stop quietly with the exit code so far instead of an EPIPE stack.
 */
function installProcessHandlers(): void {
	if (installed) return;
	installed = true;
	for (const [signal, code] of Object.entries(SIGNAL_EXIT)) {
		process.on(signal, () => {
			removePendingFiles();
			process.exit(code);
		});
	}
	process.stdout.on('error', (e: NodeJS.ErrnoException) => {
		if (e.code !== 'EPIPE') throw e;
		removePendingFiles();
		process.exit(typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok);
	});
}

/** The one line printed for an error: bad input exits 2, anything else 1 (stack with ARITHLENS_DEBUG=1). */
export function reportError(e: unknown): number {
	if (isBadInput(e)) {
		process.stderr.write(`arithlens: ${oneLine((e as Error).message)}\n`);
		return EXIT.badInput;
	}
	const message = e instanceof Error ? `${e.name === 'Error' ? '' : `${e.name}: `}${e.message}` : String(e);
	const debug = process.env.ARITHLENS_DEBUG === '1' && e instanceof Error && e.stack;
	process.stderr.write(`arithlens: ${oneLine(message)}${debug ? '' : ' (ARITHLENS_DEBUG=1 prints the stack)'}\n${debug ? `${e.stack}\n` : ''}`);
	return EXIT.failure;
}

export async function main(argv: string[]): Promise<number> {
	installProcessHandlers();
	const [name, ...rest] = argv;
	try {
		if (name === undefined) {
			process.stderr.write(HELP);
			return EXIT.badInput;
		}
		if (name === '--help' || name === '-h') {
			process.stdout.write(HELP);
			return EXIT.ok;
		}
		if (name === '--version') {
			const { readFileSync } = await import('node:fs');
			process.stdout.write(JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version + '\n');
			return EXIT.ok;
		}
		if (name === 'help' && rest.length <= 1) {
			const command = rest[0] === undefined ? undefined : COMMANDS[rest[0]];
			if (rest[0] !== undefined && !command) throw new InputError(`unknown command '${rest[0]}' (see 'arithlens --help')`);
			process.stdout.write(command ? (await command.load()).HELP : HELP);
			return EXIT.ok;
		}
		const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
		if (!command) throw new InputError(`unknown command '${name}' (see 'arithlens --help')`);
		return await (await command.load()).run(rest);
	} catch (e) {
		return reportError(e);
	}
}
