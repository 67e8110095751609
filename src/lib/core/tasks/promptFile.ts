// Prompt files (DESIGN §6): JSONL, one {"prompt", "answer", "counterfactual"?, "meta"?} object per
// line. Unknown keys are kept so a file round-trips unchanged; bad lines fail with their line number.
import { jsonProblem } from '../model/errors';

/**
 * Prompt files are refused above this size before they are read: a JavaScript string holds at most
 * ~512 M characters (a bigger file crashed the CLI), and a prompt set that size is far beyond what a
 * scan can use.
 */
export const MAX_PROMPT_FILE_BYTES = 256 * 1024 ** 2;

/** The refusal of a prompt file of `bytes`, or null when it is within MAX_PROMPT_FILE_BYTES. */
export const promptFileTooLarge = (name: string, bytes: number): string | null =>
	bytes > MAX_PROMPT_FILE_BYTES ? `'${name}' is ${(bytes / 1024 ** 2).toFixed(0)} MB, above the ${MAX_PROMPT_FILE_BYTES / 1024 ** 2} MB limit for a prompt file` : null;

export interface Counterfactual {
	prompt: string;
	/** Absent for counterfactuals that pose no question (operator-null); logit diff then has no target. */
	answer?: string;
	[key: string]: unknown;
}

export interface PromptRecord {
	prompt: string;
	answer: string;
	counterfactual?: Counterfactual;
	meta?: Record<string, unknown>;
	[key: string]: unknown;
}

export interface PromptFileIssue {
	line: number;
	message: string;
}

export class PromptFileError extends Error {
	override name = 'PromptFileError';
	constructor(
		readonly source: string,
		readonly issues: PromptFileIssue[]
	) {
		const shown = issues.slice(0, 10).map((i) => `${source}:${i.line}: ${i.message}`);
		if (issues.length > 10) shown.push(`… and ${issues.length - 10} more`);
		super(shown.join('\n'));
	}
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const describe = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v);

/** What is wrong with one parsed line, or null. */
function checkRecord(v: unknown): string | null {
	if (!isObject(v)) return `expected a JSON object, got ${describe(v)}`;
	for (const key of ['prompt', 'answer'] as const) {
		if (!(key in v)) return `missing "${key}"`;
		if (typeof v[key] !== 'string' || v[key] === '') return `"${key}" must be a non-empty string, got ${JSON.stringify(v[key])}`;
	}
	if ('counterfactual' in v) {
		const cf = v.counterfactual;
		if (!isObject(cf)) return `"counterfactual" must be an object, got ${describe(cf)}`;
		if (typeof cf.prompt !== 'string' || cf.prompt === '') return `"counterfactual.prompt" must be a non-empty string`;
		if ('answer' in cf && (typeof cf.answer !== 'string' || cf.answer === '')) return `"counterfactual.answer" must be a non-empty string when present`;
	}
	if ('meta' in v && !isObject(v.meta)) return `"meta" must be an object, got ${describe(v.meta)}`;
	return null;
}

/** Parse JSONL text; blank lines are skipped. Throws PromptFileError listing every bad line. */
export function parsePromptFile(text: string, source = 'prompts.jsonl'): PromptRecord[] {
	const records: PromptRecord[] = [];
	const issues: PromptFileIssue[] = [];
	text.replace(/^\uFEFF/, '').split('\n').forEach((raw, i) => {
		const line = raw.replace(/\r$/, '');
		if (line.trim() === '') return;
		let value: unknown;
		try {
			value = JSON.parse(line);
		} catch (e) {
			issues.push({ line: i + 1, message: `invalid JSON (${jsonProblem(e)})` });
			return;
		}
		const problem = checkRecord(value);
		if (problem) issues.push({ line: i + 1, message: problem });
		else records.push(value as PromptRecord);
	});
	if (issues.length) throw new PromptFileError(source, issues);
	if (records.length === 0) throw new PromptFileError(source, [{ line: 1, message: 'no prompts in file' }]);
	return records;
}
