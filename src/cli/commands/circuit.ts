// `arithlens circuit`: faithfulness of a head set (core/experiments/faithfulness.ts) as a table: the
// model with the set ablated, with everything but the set ablated, and random sets of the same size.
import { ABLATION_METHODS, type AblationMethod } from '../../lib/core/experiments/ablation';
import { faithfulness, type FaithfulnessResult } from '../../lib/core/experiments/faithfulness';
import { runMethod, topHeads } from '../../lib/core/experiments/methods';
import { ScanContext } from '../../lib/core/experiments/scan';
import { topK } from '../../lib/core/export/rank';
import type { HeadRef } from '../../lib/core/model/spec';
import { InputError, parseFlags } from '../errors';
import { COMMON_FLAGS, COMMON_HELP, checkOutputs, intFlag, keepCorrect, loadForExperiment, ONLY_CORRECT_FLAG, ONLY_CORRECT_HELP, progressBar, promptSource, writeAllAtomic } from '../experiment-inputs';
import { checkScanFits, readScan, topOf } from './plan';

export const HELP = `Usage: arithlens circuit --model <dir|id> (--prompts <file.jsonl> | --task <spec>) (--top <K> | --top-percent <P>) [options]

Is a small set of heads the circuit? Ablates the top heads of a ranking and reports accuracy and
answer logprob for: the full model, the set ablated, everything but the set ablated (the set alone),
every head ablated, and random head sets of the same size (mean ± std over seeded draws).
faithfulness = (logprob(set alone) - logprob(all ablated)) / (logprob(full) - logprob(all ablated)).

Options:
${COMMON_HELP}
${ONLY_CORRECT_HELP}
      --top <K> | --top-percent <P>   size of the set: the K (or P percent, rounded up) best heads
      --scan <file>        take the ranking from 'arithlens scan --json' (default: run a scan with
                           --method first, on the same prompts)
      --method <m>         ablation used for ranking and for the circuit: zero, mean (default), resample
      --random-sets <N>    random sets to draw (default 10)
      --json <file>        write the full result there

Example:
  arithlens circuit --model models/add-3d --prompts models/add-3d/heldout.jsonl --top-percent 10
`;

const FLAGS = {
	...COMMON_FLAGS,
	...ONLY_CORRECT_FLAG,
	top: { type: 'string' },
	'top-percent': { type: 'string' },
	scan: { type: 'string' },
	method: { type: 'string' },
	'random-sets': { type: 'string' },
	json: { type: 'string' }
} as const;

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const pm = (s: { mean: number; std: number }, f: (x: number) => string) => `${f(s.mean)} ± ${f(s.std)}`;

/** The result as a Markdown table, ready for a README. */
export function circuitTable(r: FaithfulnessResult): string {
	const lp = (x: number) => x.toFixed(3);
	const names = r.heads.map((h) => `L${h.layer}H${h.head}`).join(' ');
	return [
		`heads (${r.heads.length}): ${names}; ablation: ${r.method}; faithfulness ${r.faithfulness.toFixed(3)}`,
		'',
		'| run | accuracy | logprob |',
		'|---|---:|---:|',
		`| full model | ${pct(r.full.accuracy)} | ${lp(r.full.logprob)} |`,
		`| set ablated | ${pct(r.ablated.accuracy)} | ${lp(r.ablated.logprob)} |`,
		`| random sets of ${r.heads.length} ablated (${r.random.sets.length} draws) | ${pm(r.random.ablated.accuracy, pct)} | ${pm(r.random.ablated.logprob, lp)} |`,
		`| all but the set ablated | ${pct(r.circuit.accuracy)} | ${lp(r.circuit.logprob)} |`,
		`| all but a random set ablated | ${pm(r.random.circuit.accuracy, pct)} | ${pm(r.random.circuit.logprob, lp)} |`,
		`| every head ablated | ${pct(r.empty.accuracy)} | ${lp(r.empty.logprob)} |`,
		''
	].join('\n');
}

export async function run(argv: string[]): Promise<number> {
	const flags = parseFlags('circuit', argv, FLAGS);
	if (flags.help) {
		process.stdout.write(HELP);
		return 0;
	}
	const method = (flags.method ?? 'mean') as AblationMethod;
	if (!ABLATION_METHODS.includes(method)) throw new InputError(`--method: '${method}' is not one of ${ABLATION_METHODS.join(', ')}`);
	const k = topOf(flags);
	const scanFile = flags.scan === undefined ? undefined : readScan(flags.scan);
	const randomSets = intFlag(flags['random-sets'], 'random-sets', 10, 1);
	checkOutputs({ json: flags.json }, { prompts: flags.prompts, model: flags.model, scan: flags.scan });
	const prompts = await promptSource(flags, 'circuit');
	const loaded = await loadForExperiment(flags, prompts, 'circuit');
	const { engine } = loaded;
	const bar = progressBar();
	let result: FaithfulnessResult;
	try {
		if (scanFile) checkScanFits(scanFile, flags.scan!, loaded.model.spec, flags.model!);
		if (flags['only-correct']) await keepCorrect(loaded, prompts);
		const ctx = new ScanContext(engine, loaded.set);
		let heads: HeadRef[];
		if (scanFile) heads = topK([...scanFile.heads].sort((a, b) => a.rank - b.rank), k).map(({ layer, head }) => ({ layer, head }));
		else {
			heads = topHeads((await runMethod(ctx, { method, seed: prompts.seed, onProgress: bar.update })).heads, k);
		}
		result = await faithfulness(ctx, { heads, method, seed: prompts.seed, randomSets, onProgress: bar.update });
	} finally {
		bar.done();
		await engine.dispose();
	}
	if (flags.json !== undefined) writeAllAtomic([{ path: flags.json, data: JSON.stringify(result, null, 2) + '\n', flag: 'json' }]);
	process.stdout.write(circuitTable(result));
	return 0;
}
