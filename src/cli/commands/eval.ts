// `arithlens eval`: flag parsing and output only; evaluatePrompts (core/experiments) computes.
import { evaluatePrompts } from '../../lib/core/experiments/evaluate';
import { ScanContext } from '../../lib/core/experiments/scan';
import { parseFlags } from '../errors';
import { COMMON_FLAGS, COMMON_HELP, checkOutputs, loadForExperiment, progressBar, promptSource, writeAllAtomic } from '../experiment-inputs';

export const HELP = `Usage: arithlens eval --model <dir|id> (--prompts <file.jsonl> | --task <spec>) [options]

Exact-match accuracy of the model on the prompts, teacher-forced (equal to greedy decoding): a
prompt is correct when every answer token is the model's top prediction.

Options:
${COMMON_HELP}
      --json <file>        write the result there (otherwise it is printed to stdout)

Output (JSON): {"accuracy", "n", "logprob" (mean summed log p of the answer tokens),
  "per_position_accuracy": [first answer token, ...],
  "prompts": [{"prompt", "answer", "answer_tokens" (the text of each answer token scored: the
  tail of tokenizer(prompt + answer) after tokenizer(prompt)), "correct", "logprob"}, ...]}

Exit status: 0 success, 2 bad input (reason on stderr; nothing written), 1 any other failure.

Example:
  arithlens eval --model models/add-3d --task add-3d --n 200 --json eval.json
`;

const FLAGS = { ...COMMON_FLAGS, json: { type: 'string' } } as const;

export async function run(argv: string[]): Promise<number> {
	const flags = parseFlags('eval', argv, FLAGS);
	if (flags.help) {
		process.stdout.write(HELP);
		return 0;
	}
	checkOutputs({ json: flags.json }, { prompts: flags.prompts, model: flags.model });
	const prompts = await promptSource(flags, 'eval');
	const { engine, set, model } = await loadForExperiment(flags, prompts, 'eval');
	const bar = progressBar();
	let result;
	try {
		result = await evaluatePrompts(new ScanContext(engine, set), prompts.records, { onProgress: bar.update, tokenizer: model.tokenizer });
	} finally {
		bar.done();
		await engine.dispose();
	}
	const json = JSON.stringify(result, null, 2) + '\n';
	if (flags.json === undefined) process.stdout.write(json);
	else {
		writeAllAtomic([{ path: flags.json, data: json, flag: 'json' }]);
		// Positions are answer tokens; the first prompt's tokens show what each one holds.
		const example = result.prompts[0]?.answer_tokens ?? [];
		const pos = result.per_position_accuracy.map((a, i) => `${i < example.length ? `${JSON.stringify(example[i])} ` : ''}${(100 * a).toFixed(1)}%`).join(', ');
		process.stdout.write(`accuracy ${(100 * result.accuracy).toFixed(1)}% on ${result.n} prompts, logprob ${result.logprob.toFixed(4)}; per answer token ${pos}; wrote ${flags.json}\n`);
	}
	return 0;
}
