// `arithlens subtasks`: for multiplication prompts, accuracy and loss per answer digit and per subtask
// class of Qiu et al. (core/experiments/multiplication.ts), and the heads whose ablation hurts each
// digit most.
import { ablationScan, ABLATION_METHODS, type AblationMethod } from '../../lib/core/experiments/ablation';
import { mulDigits, mulSubtasks, type MulSubtaskReport } from '../../lib/core/experiments/multiplication';
import { ScanContext } from '../../lib/core/experiments/scan';
import { InputError, parseFlags } from '../errors';
import { COMMON_FLAGS, COMMON_HELP, checkOutputs, intFlag, keepCorrect, loadForExperiment, ONLY_CORRECT_FLAG, ONLY_CORRECT_HELP, progressBar, promptSource, rethrowAsInput, writeAllAtomic } from '../experiment-inputs';

export const HELP = `Usage: arithlens subtasks --model <dir|id> (--prompts <file.jsonl> | --task <spec>) [options]

Multiplication subtasks (Qiu et al. 2024, DESIGN §8): each answer digit is classed BM (base
multiply), CM (carry-producing multiply), Carry, UC (use carry) or US10 (cascading carry). Prints
accuracy and mean loss (-log p) per answer digit (10^i place) and per class, then ablates every head
and lists the heads whose ablation lowers each digit's accuracy most.

Options:
${COMMON_HELP}
${ONLY_CORRECT_HELP}
      --method <m>         ablation: zero, mean (default), resample
      --top <K>            heads listed per digit (default 3)
      --json <file>        write the full report there

Example:
  arithlens subtasks --model models/mul-2d --prompts models/mul-2d/heldout.jsonl
`;

const FLAGS = { ...COMMON_FLAGS, ...ONLY_CORRECT_FLAG, method: { type: 'string' }, top: { type: 'string' }, json: { type: 'string' } } as const;

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

/** The report as Markdown tables, ready for a README. */
export function subtaskTables(r: MulSubtaskReport): string {
	const lines = [`${r.n} prompts, answers ${r.reversed ? 'least-significant digit first' : 'most-significant digit first'}`, ''];
	lines.push('| answer digit | n | accuracy | loss | heads whose ablation hurts it most (accuracy drop) |', '|---|---:|---:|---:|---|');
	for (const d of r.digits) {
		const top = r.heads?.top.find((t) => t.digit === d.digit)?.heads ?? [];
		const heads = top.map((h) => `L${h.layer}H${h.head} (${(100 * h.accuracy_drop).toFixed(1)} pts)`).join(', ');
		lines.push(`| 10^${d.digit} | ${d.n} | ${pct(d.accuracy)} | ${d.loss.toFixed(4)} | ${heads} |`);
	}
	lines.push('', '| subtask | digits | accuracy | loss |', '|---|---:|---:|---:|');
	for (const c of r.classes) lines.push(`| ${c.class} | ${c.n} | ${pct(c.accuracy)} | ${c.loss.toFixed(4)} |`);
	return lines.join('\n') + '\n';
}

export async function run(argv: string[]): Promise<number> {
	const flags = parseFlags('subtasks', argv, FLAGS);
	if (flags.help) {
		process.stdout.write(HELP);
		return 0;
	}
	const method = (flags.method ?? 'mean') as AblationMethod;
	if (!ABLATION_METHODS.includes(method)) throw new InputError(`--method: '${method}' is not one of ${ABLATION_METHODS.join(', ')}`);
	const top = intFlag(flags.top, 'top', 3, 1);
	checkOutputs({ json: flags.json }, { prompts: flags.prompts, model: flags.model });
	const prompts = await promptSource(flags, 'subtasks');
	const loaded = await loadForExperiment(flags, prompts, 'subtasks');
	const { engine, model } = loaded;
	const bar = progressBar();
	let report: MulSubtaskReport;
	try {
		if (flags['only-correct']) await keepCorrect(loaded, prompts);
		const set = loaded.set;
		const digits = rethrowAsInput(() => {
			try {
				return mulDigits(set, prompts.records, model.tokenizer);
			} catch (e) {
				throw e instanceof RangeError ? new InputError(e.message) : e; // no a × b prompt in the set
			}
		});
		const ctx = new ScanContext(engine, set);
		const ablation = await ablationScan(ctx, { method, seed: prompts.seed, mlps: false, onProgress: bar.update });
		report = mulSubtasks(digits, ablation.base, ablation, top);
	} finally {
		bar.done();
		await engine.dispose();
	}
	if (flags.json !== undefined) {
		const { heads, ...rest } = report;
		const json = { ...rest, heads_top: heads?.top };
		writeAllAtomic([{ path: flags.json, data: JSON.stringify(json, null, 2) + '\n', flag: 'json' }]);
	}
	process.stdout.write(subtaskTables(report));
	return 0;
}
