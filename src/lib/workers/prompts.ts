// The page's prompt set, prepared off the main thread: a generated set drawn with the model's
// tokenizer, or an uploaded prompt file parsed and hashed, each measured in tokens (its longest
// prompt with its answer) so the page can budget the set's kept activations as the CLI does.
import { encodePromptSet, sequenceLength } from '$lib/core/experiments/prompts';
import { sha256Hex } from '$lib/core/export';
import { maxOf } from '$lib/core/model/arrays';
import type { ArithTokenizer, TokenizerFiles } from '$lib/core/model';
import { generatePrompts, parsePromptFile, parseTaskSpec, type PromptRecord } from '$lib/core/tasks';

/** What to prepare. A file sent again for a new tokenizer may skip its records (the page has them). */
export type PromptJob = { kind: 'generate'; spec: string; n: number; seed: number } | { kind: 'file'; file: Blob; name: string; records: boolean };

export interface PreparedPrompts {
	/** Null when the job asked for a file's measure only. */
	records: PromptRecord[] | null;
	/** A file's sha256 (provenance). */
	sha256?: string;
	/** Tokens of the longest prompt with its answer under the tokenizer; null without one, or when a prompt does not tokenize (evaluation reports that). */
	maxTokens: number | null;
}

/** The tokenizer files a ModelInfo carries, as the worker rebuilds them. */
export type TokenizerInput = TokenizerFiles & { modelConfig: Record<string, unknown> };

export async function preparePrompts(job: PromptJob, tokenizer: ArithTokenizer | null): Promise<PreparedPrompts> {
	if (job.kind === 'generate') {
		const records = generatePrompts(parseTaskSpec(job.spec), { n: job.n, seed: job.seed, tokenizer: tokenizer ?? undefined });
		return { records, maxTokens: measure(tokenizer, records) };
	}
	const bytes = new Uint8Array(await job.file.arrayBuffer());
	const records = parsePromptFile(new TextDecoder().decode(bytes), job.name);
	return { records: job.records ? records : null, sha256: await sha256Hex(bytes), maxTokens: measure(tokenizer, records) };
}

function measure(tokenizer: ArithTokenizer | null, records: PromptRecord[]): number | null {
	if (!tokenizer || records.length === 0) return null;
	try {
		return maxOf(encodePromptSet(tokenizer, records).prompts.map(sequenceLength));
	} catch {
		return null;
	}
}

/** A request to prompts.worker.ts; `tokenizer: 'cached'` reuses the one the worker built last. */
export interface PromptRequest {
	id: number;
	job: PromptJob;
	tokenizer: TokenizerInput | null | 'cached';
}

export type PromptResponse = { id: number; type: 'result'; result: PreparedPrompts } | { id: number; type: 'error'; error: { name: string; message: string } };
