// Exit codes of the CLI and the error that means "the user's input is wrong" (exit 2, one line on stderr).
import { parseArgs, type ParseArgsConfig } from 'node:util';

export const EXIT = { ok: 0, failure: 1, badInput: 2 } as const;

/** Bad input: an unknown flag, a missing or unloadable model, a hook pattern that matches nothing... */
export class InputError extends Error {
	constructor(message: string) {
		super(message);
		this.name = 'InputError';
	}
}

// By name rather than instanceof so that `arithlens --help` does not load the model code. Every error
// class whose message tells the user what to change on the command line or in an input file; the
// core's RangeErrors are not here (they can be bugs of ours): the CLI turns the ones that are about
// input into InputErrors where it calls the core (experiment-inputs.ts rethrowAsInput).
const BAD_INPUT = new Set([
	'InputError', 'ModelLoadError', 'TokenizeError', 'TaskSpecError', 'PromptFileError', 'PromptSetError', 'PermutationError', 'GlobError', 'DigitTokensError', 'NeuronLensError', 'CompareError'
]);

/** Errors the user can fix by changing the command line (a model that does not load, a prompt the
 * tokenizer cannot encode); anything else is a failure of ours (exit 1). */
export const isBadInput = (e: unknown): boolean => e instanceof Error && BAD_INPUT.has(e.name);

/** node:util parseArgs, strict, with its errors turned into InputErrors naming the command. */
export function parseFlags<T extends NonNullable<ParseArgsConfig['options']>>(command: string, argv: string[], options: T) {
	try {
		return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
	} catch (e) {
		const err = e as Error & { code?: string };
		if (!err.code?.startsWith('ERR_PARSE_ARGS')) throw e;
		// Node appends a hint about '--' and positionals to unknown options; the help is the better hint.
		const unknown = err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && /'([^']+)'/.exec(err.message)?.[1];
		const message = unknown ? `unknown option '${unknown}'` : err.message.replace(/\s+/g, ' ');
		throw new InputError(`${message} (see 'arithlens ${command} --help')`);
	}
}
