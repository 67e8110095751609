// Typed errors of model loading and tokenization, so the CLI and the UI can say which file broke and why.

/** A model folder, hub repo or file that cannot be loaded. `file` names the file, `problem` what is wrong. */
export class ModelLoadError extends Error {
	readonly file: string;
	readonly problem: string;
	/** Set when the model is refused for its size: its estimated bytes and the limit they exceed. */
	readonly needBytes?: number;
	readonly limitBytes?: number;
	constructor(file: string, problem: string, memory?: { needBytes: number; limitBytes: number }) {
		super(`${file}: ${problem}`);
		this.name = 'ModelLoadError';
		this.file = file;
		this.problem = problem;
		this.needBytes = memory?.needBytes;
		this.limitBytes = memory?.limitBytes;
	}
}

/** Text the tokenizer cannot encode faithfully (a character it maps to its unk token, or drops). */
export class TokenizeError extends Error {
	readonly text: string;
	/** The offending character and its index in `text` (UTF-16 code units), when known. */
	readonly char: string | undefined;
	readonly position: number | undefined;
	constructor(text: string, problem: string, char?: string, position?: number) {
		super(problem);
		this.name = 'TokenizeError';
		this.text = text;
		this.char = char;
		this.position = position;
	}
}

/** Run `fn`, turning anything it throws that is not already a ModelLoadError into one about `file`. */
export function blameFile<T>(file: string, fn: () => T): T {
	try {
		return fn();
	} catch (e) {
		if (e instanceof ModelLoadError) throw e;
		throw new ModelLoadError(file, e instanceof Error ? e.message : String(e));
	}
}

/** JSON.parse whose failures name the file. */
export function parseJson(file: string, bytes: Uint8Array): unknown {
	return blameFile(file, () => {
		let text: string;
		try {
			text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
		} catch {
			throw new ModelLoadError(file, 'not valid UTF-8 text');
		}
		try {
			return JSON.parse(text);
		} catch (e) {
			throw new ModelLoadError(file, `bad JSON (${jsonProblem(e)})`);
		}
	});
}

/**
 * JSON.parse's complaint without the file's text: V8 quotes the input ('Unexpected token 'r',
 * "root:x:0:0"... is not valid JSON'), which for a file the user did not mean to share (a link
 * to a secret) would print its first bytes. Keeps the grammar part and the position.
 */
export function jsonProblem(e: unknown): string {
	const message = e instanceof Error ? e.message : String(e);
	return message
		.replace(/, ".*"(\.\.\.)? is not valid JSON$/s, ' (not valid JSON)')
		.replace(/^Unexpected token '(.)'/su, (_, ch: string) => `Unexpected character U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`)
		.replace(/"[^"]*"/g, '"…"')
		.slice(0, 200);
}
