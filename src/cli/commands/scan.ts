// `arithlens scan`: flag parsing and output only; the method pipeline (scan, ranking, provenance)
// lives in core/experiments/methods, the table in core/export.
import { counterfactualNeed, runMethod, SCAN_METHODS, scanProvenance, type RankedScan, type ScanMethod } from '../../lib/core/experiments/methods';
import { RANKING_METRIC_FLAGS, RANKING_METRICS, rankingMetricOfFlag } from '../../lib/core/experiments/metrics';
import { ScanContext, type ScanOptions } from '../../lib/core/experiments/scan';
import { differenceCsv, scanDifference, type ScanDifference } from '../../lib/core/export/compare';
import { headReportJson, headTableCsv } from '../../lib/core/export/headTable';
import { portableName } from '../../lib/core/export/provenance';
import { counterfactualSubset } from '../../lib/core/experiments/prompts';
import { InputError, parseFlags } from '../errors';
import {
	COMMON_FLAGS, COMMON_HELP, ONLY_CORRECT_FLAG, ONLY_CORRECT_HELP, VERSION, checkOutputs, intFlag, keepCorrect, keepCounterfactuals, loadForExperiment, progressBar, promptSource, required, rethrowAsInput, rethrowAsInputAsync, writeAllAtomic
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
      --compare <dir|id>   also scan this second model (a fine-tuned folder, a checkpoint) on the same
                           prompts: the JSON gains "compare" (its clean metrics, heads, MLPs) and
                           "difference" (b - a per head, MLP and clean metric); the CSV becomes
                           layer,head,score_a,score_b,difference,rank_a,rank_b
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
	csv: { type: 'string' },
	compare: { type: 'string' }
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
	if (flags.compare !== undefined) checkOutputs({ json: flags.json, csv: flags.csv }, { model: flags.compare });
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

	const compared = flags.compare === undefined ? undefined : await scanCompared(flags, prompts, method, metric, { ...options, perm, seed: prompts.seed }, ranked);
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
	const json = compared ? comparedJson(headReportJson({ provenance, clean: ranked.clean, heads, mlps }), compared) : headReportJson({ provenance, clean: ranked.clean, heads, mlps });
	const files = [
		...(flags.json !== undefined ? [{ path: flags.json, data: json, flag: 'json' }] : []),
		...(flags.csv !== undefined ? [{ path: flags.csv, data: compared ? differenceCsv(compared.difference) : headTableCsv(heads), flag: 'csv' }] : [])
	];
	if (files.length === 0) process.stdout.write(json);
	else {
		writeAllAtomic(files);
		const top = heads.slice(0, 5).map((h) => `L${h.layer}H${h.head} ${h.score.toFixed(4)}`).join(', ');
		process.stdout.write(`${method} scan of ${heads.length} heads on ${loaded.set.prompts.length} prompts; top: ${top}; wrote ${files.map((f) => f.path).join(', ')}\n`);
		if (compared) {
			const moved = [...compared.difference.heads].sort((x, y) => Math.abs(y.difference) - Math.abs(x.difference)).slice(0, 5);
			process.stdout.write(`compared with ${compared.model.id}: largest changes ${moved.map((h) => `L${h.layer}H${h.head} ${h.difference >= 0 ? '+' : ''}${h.difference.toFixed(4)}`).join(', ')}\n`);
		}
	}
	return 0;
}

interface Compared {
	model: { id: string; revision?: string; weights_sha256?: string };
	ranked: RankedScan;
	difference: ScanDifference;
}

/**
 * The same method on the same prompts (the first model's, after any narrowing) with the --compare
 * model: refused when that model cannot use every one of them, so the difference compares like with like.
 */
async function scanCompared(flags: Parameters<typeof loadForExperiment>[0] & { compare?: string }, prompts: Awaited<ReturnType<typeof promptSource>>, method: ScanMethod, metric: ReturnType<typeof rankingMetricOfFlag> & {}, options: ScanOptions & { perm?: number[]; seed: number }, first: RankedScan): Promise<Compared> {
	const same = { ...prompts, generate: undefined, planned: undefined, records: [...prompts.records] };
	const loaded = await loadForExperiment({ ...flags, model: flags.compare }, same, 'scan');
	const bar = progressBar();
	try {
		const need = counterfactualNeed(method, metric);
		const { leftOut, reason } = need ? counterfactualSubset(loaded.set, need) : { leftOut: 0, reason: undefined };
		if (leftOut) throw new InputError(`--compare: ${leftOut} of the prompts have no usable counterfactual under ${flags.compare}'s tokenizer (first: ${reason}); compare models that tokenize alike`);
		const ranked = await rethrowAsInputAsync(runMethod(new ScanContext(loaded.engine, loaded.set), { ...options, method, metric, onProgress: bar.update }));
		const m = loaded.model.source;
		return { model: { id: portableName(m.id), revision: m.revision, weights_sha256: m.weightsSha256 }, ranked, difference: rethrowAsInput(() => scanDifference(first, ranked)) };
	} finally {
		bar.done();
		await loaded.engine.dispose();
	}
}

/** The first model's report with the second's tables and the difference added. */
function comparedJson(report: string, c: Compared): string {
	const out = { ...JSON.parse(report), compare: { model: c.model, clean: c.ranked.clean, heads: c.ranked.heads, mlps: c.ranked.mlps }, difference: c.difference };
	return JSON.stringify(out, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n';
}
