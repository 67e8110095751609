// `arithlens scan`: flag parsing and output only; the method pipeline (scan, ranking, provenance)
// lives in core/experiments/methods, the table in core/export.
import { counterfactualNeed, runMethod, SCAN_METHODS, scanProvenance, type RankedScan, type ScanMethod } from '../../lib/core/experiments/methods';
import { RANKING_METRIC_FLAGS, RANKING_METRICS, rankingMetricOfFlag } from '../../lib/core/experiments/metrics';
import { ScanContext, type ScanOptions } from '../../lib/core/experiments/scan';
import { headReportJson, headTableCsv } from '../../lib/core/export/headTable';
import { InputError, parseFlags } from '../errors';
import {
	COMMON_FLAGS, COMMON_HELP, ONLY_CORRECT_FLAG, ONLY_CORRECT_HELP, VERSION, checkOutputs, intFlag, keepCorrect, keepCounterfactuals, loadForExperiment, progressBar, promptSource, required, rethrowAsInputAsync, writeAllAtomic
} from '../experiment-inputs';

export const HELP = `Usage: arithlens scan --model <dir|id> (--prompts <file.jsonl> | --task <spec>) --method <m> [options]

Scores every attention head (and MLP layer) of the model on the prompts, batching one intervention
per (component, prompt) row.

Methods:
  zero | mean | resample   ablation: metric(clean) - metric(ablated), averaged over prompts; the head's
                           z is replaced by 0, by its mean over the prompts at each position, or by
                           another prompt's z (a seeded permutation without fixed points)
  patch                    activation patching (denoising): the counterfactual run with the head
                           restored to its clean z; (m_patched - m_corrupt) / (m_clean - m_corrupt)
  path                     path patching to logits (Zhang et al.): the head takes its counterfactual
                           z, every other head stays at its clean z; relative change of the correct
                           answer's logit (key heads are below -0.05); ranked most negative first
  patch and path need a counterfactual for every prompt (generated sets have one).

Options:
${COMMON_HELP}
${ONLY_CORRECT_HELP}
      --method <m>         zero, mean, resample, patch or path
      --metric <m>         logprob (default), accuracy or logit-diff (needs counterfactual answers);
                           path patching always scores the answer logit
      --perm <list>        resample: the permutation, comma-separated (prompt i takes prompt perm[i])
      --batch-rows <n>     rows per forward (default: from --memory-mb)
      --memory-mb <n>      memory budget of one batch (default 256)
      --json <file>        the head table as JSON {"provenance", "clean", "heads", "mlps"}
      --csv <file>         the head table as CSV (layer,head,score,rank,accuracy_drop,logprob_drop,
                           accuracy_drop_pos<i>...)
  With neither --json nor --csv the JSON is printed to stdout. Files are written only when the scan
  succeeds.

Exit status: 0 success, 2 bad input (reason on stderr; nothing written), 1 any other failure.

Example:
  arithlens scan --model models/add-3d --task add-3d --n 64 --method mean --json heads.json --csv heads.csv
`;

const FLAGS = {
	...COMMON_FLAGS,
	...ONLY_CORRECT_FLAG,
	method: { type: 'string' },
	metric: { type: 'string' },
	perm: { type: 'string' },
	'batch-rows': { type: 'string' },
	'memory-mb': { type: 'string' },
	json: { type: 'string' },
	csv: { type: 'string' }
} as const;

function parsePerm(text: string | undefined): number[] | undefined {
	if (text === undefined) return undefined;
	const items = text.split(',').map((x) => x.trim());
	if (items.some((x) => !/^\d+$/.test(x))) throw new InputError(`--perm: '${text}' is not a comma-separated list of prompt indices`);
	return items.map(Number);
}

export async function run(argv: string[]): Promise<number> {
	const flags = parseFlags('scan', argv, FLAGS);
	if (flags.help) {
		process.stdout.write(HELP);
		return 0;
	}
	const method = required(flags.method, 'method', 'scan') as ScanMethod;
	if (!SCAN_METHODS.includes(method)) throw new InputError(`--method: '${method}' is not one of ${SCAN_METHODS.join(', ')}`);
	const metric = rankingMetricOfFlag(flags.metric ?? 'logprob');
	if (!metric) throw new InputError(`--metric: '${flags.metric}' is not one of ${RANKING_METRICS.map((m) => RANKING_METRIC_FLAGS[m]).join(', ')}`);
	const perm = parsePerm(flags.perm);
	if (perm && method !== 'resample') throw new InputError('--perm applies to --method resample only');
	checkOutputs({ json: flags.json, csv: flags.csv }, { prompts: flags.prompts, model: flags.model });
	const options: ScanOptions = {};
	if (flags['batch-rows'] !== undefined) options.batchRows = intFlag(flags['batch-rows'], 'batch-rows', 0, 1);
	if (flags['memory-mb'] !== undefined) options.memoryBudget = intFlag(flags['memory-mb'], 'memory-mb', 0, 1) * 1024 ** 2;

	const prompts = await promptSource(flags, 'scan');
	const loaded = await loadForExperiment(flags, prompts, 'scan');
	const { model, engine } = loaded;
	const bar = progressBar();
	let ranked: RankedScan;
	try {
		if (flags['only-correct']) await keepCorrect(loaded, prompts);
		const need = counterfactualNeed(method, metric);
		if (need) keepCounterfactuals(loaded, prompts, need, need === 'answer' ? `--metric logit-diff` : `--method ${method}`);
		const ctx = new ScanContext(engine, loaded.set);
		ranked = await rethrowAsInputAsync(runMethod(ctx, { ...options, method, metric, perm, seed: prompts.seed, onProgress: bar.update }));
	} finally {
		bar.done();
		await engine.dispose();
	}

	const { heads, mlps } = ranked;
	const random = prompts.generated || (method === 'resample' && !perm);
	const provenance = scanProvenance(
		{
			arithlens_version: VERSION,
			model: { id: model.source.id, revision: model.source.revision, weights_sha256: model.source.weightsSha256 },
			task: prompts.task,
			prompt_file_sha256: prompts.promptFileSha256,
			prompt_file: prompts.promptFile,
			n_prompts: ranked.n,
			seed: random ? prompts.seed : null,
			backend: engine.backend
		},
		ranked
	);
	const json = headReportJson({ provenance, clean: ranked.clean, heads, mlps });
	const files = [
		...(flags.json !== undefined ? [{ path: flags.json, data: json, flag: 'json' }] : []),
		...(flags.csv !== undefined ? [{ path: flags.csv, data: headTableCsv(heads), flag: 'csv' }] : [])
	];
	if (files.length === 0) process.stdout.write(json);
	else {
		writeAllAtomic(files);
		const top = heads.slice(0, 5).map((h) => `L${h.layer}H${h.head} ${h.score.toFixed(4)}`).join(', ');
		process.stdout.write(`${method} scan of ${heads.length} heads on ${loaded.set.prompts.length} prompts; top: ${top}; wrote ${files.map((f) => f.path).join(', ')}\n`);
	}
	return 0;
}
