// `arithlens neurons`: the neuron lens (DESIGN §10) — IPR and dominant frequency of every MLP neuron on
// a full modular prompt set, the memorizing/generalizing split at χ, pruning below χ and the pruning
// sweep per group; and per-neuron ablation importance on any model. Flag parsing and output only
// (core/experiments/neurons.ts computes).
import { DEFAULT_NEURON_ABLATION, NEURON_ABLATIONS, neuronImportance, modularLayout, neuronLens, PruneScorer, pruneBelow, pruneSweep, GROUPS, type NeuronAblation, type NeuronImportance, type NeuronLensResult, type PruneResult, type SweepPoint } from '../../lib/core/experiments/neurons';
import { ScanContext, type ScanOptions } from '../../lib/core/experiments/scan';
import { toCsv } from '../../lib/core/export/csv';
import { distinctProblems, parseTaskSpec } from '../../lib/core/tasks';
import { InputError, parseFlags } from '../errors';
import { COMMON_FLAGS, COMMON_HELP, checkOutputs, intFlag, loadForExperiment, numberFlag, progressBar, promptSource, reportProvenance, rethrowAsInput, rethrowAsInputAsync, writeAllAtomic } from '../experiment-inputs';

export const HELP = `Usage: arithlens neurons --model <dir|id> (--prompts <file.jsonl> | --task <spec>) [options]

The neuron lens (Doshi et al. 2023, "To grok or not to grok"). On a modular prompt set holding all p²
pairs (records with meta.a and meta.b; a task such as add:p97, or models/mod-97/all.jsonl): each MLP
neuron's activation grid over the pairs (hook_post at the last prompt position), its 2-D Fourier
spectrum, the inverse participation ratio IPR_r = sum_k (F_k / |F|)^(2r) (high: a few frequencies,
generalizing; low: memorizing), the dominant frequency pair and its power share. Neurons below the
threshold chi are pruned (ablated) and accuracy reported per group from meta.split / meta.corrupted /
meta.true_answer: train_clean, train_corrupted (the trained, corrupted label), train_corrupted_true
(the true label), test; a sweep prunes the k lowest-IPR neurons beside a seeded random order.
With --importance, each neuron's ablation score (logprob drop) on any model and prompt set.

Options:
${COMMON_HELP}
      --layer <l>          only block l's neurons (default every block)
      --r <r>              the IPR exponent (default 2)
      --prune-below <chi>  the threshold (default: Otsu's split of log10 IPR, stated in the output)
      --ablation <a>       how pruned neurons are ablated: mean (over the set, default) or zero
      --sweep-steps <n>    sweep points from 0 to every live neuron (default 16; 0: no sweep)
      --importance         also (or, on a set that is not modular, only) per-neuron ablation scores
      --json <file>        {"provenance", "p", "r", "threshold", "counts", "neurons": [{"layer", "neuron",
                           "ipr", "freq", "power_share"}], "prune", "sweep"}
      --csv <file>         the neuron table: layer,neuron,ipr,freq_a,freq_b,power_share[,logprob_drop,...]
  With --task, --n defaults to every pair of the task's split. With neither --json nor --csv the JSON
  is printed to stdout.

Exit status: 0 success, 2 bad input (reason on stderr; nothing written), 1 any other failure.

Example:
  arithlens neurons --model models/mod-97 --prompts models/mod-97/all.jsonl --json neurons.json
`;

const FLAGS = {
	...COMMON_FLAGS,
	layer: { type: 'string' },
	r: { type: 'string' },
	'prune-below': { type: 'string' },
	ablation: { type: 'string' },
	'sweep-steps': { type: 'string' },
	importance: { type: 'boolean' },
	json: { type: 'string' },
	csv: { type: 'string' }
} as const;

interface Report {
	lens?: NeuronLensResult;
	prune?: PruneResult;
	sweep?: SweepPoint[];
	importance?: NeuronImportance[];
}

const finite = (v: number) => (Number.isFinite(v) ? v : null);

function reportJson(provenance: object, r: Report): string {
	const key = (n: { layer: number; neuron: number }) => `${n.layer}.${n.neuron}`;
	const imp = new Map((r.importance ?? []).map((x) => [key(x), x]));
	const rows = r.lens
		? r.lens.neurons.map((n) => ({ layer: n.layer, neuron: n.neuron, ipr: finite(n.ipr), freq: n.freq, power_share: finite(n.power_share), ...(imp.size ? { logprob_drop: imp.get(key(n))?.logprob_drop, accuracy_drop: imp.get(key(n))?.accuracy_drop } : {}) }))
		: (r.importance ?? []).map((x) => ({ layer: x.layer, neuron: x.neuron, logprob_drop: x.logprob_drop, accuracy_drop: x.accuracy_drop }));
	const groups = r.prune && Object.fromEntries(Object.keys(r.prune.after).map((g) => [g, { before: r.prune!.before[g as keyof typeof r.prune.before]!.accuracy, after: r.prune!.after[g as keyof typeof r.prune.after]!.accuracy, n: r.prune!.after[g as keyof typeof r.prune.after]!.n }]));
	const out = {
		provenance,
		...(r.lens ? { p: r.lens.p, r: r.lens.r, threshold: { value: finite(r.lens.threshold.value), from: r.lens.threshold.from }, counts: r.lens.counts } : {}),
		neurons: rows,
		...(r.prune ? { prune: { threshold: finite(r.prune.threshold), ablation: r.prune.ablation, pruned: r.prune.pruned, groups } } : {}),
		...(r.sweep ? { sweep: r.sweep.map((s) => ({ k: s.k, order: s.order, groups: Object.fromEntries(Object.entries(s.groups).map(([g, v]) => [g, v!.accuracy])) })) } : {})
	};
	return JSON.stringify(out, null, 2) + '\n';
}

function reportCsv(r: Report): string {
	const imp = new Map((r.importance ?? []).map((x) => [`${x.layer}.${x.neuron}`, x]));
	if (!r.lens) return toCsv(['layer', 'neuron', 'logprob_drop', 'accuracy_drop'], (r.importance ?? []).map((x) => [x.layer, x.neuron, x.logprob_drop, x.accuracy_drop]));
	const extra = imp.size ? ['logprob_drop', 'accuracy_drop'] : [];
	return toCsv(['layer', 'neuron', 'ipr', 'freq_a', 'freq_b', 'power_share', ...extra], r.lens.neurons.map((n) => {
		const i = imp.get(`${n.layer}.${n.neuron}`);
		return [n.layer, n.neuron, finite(n.ipr), n.freq[0], n.freq[1], finite(n.power_share), ...(imp.size ? [i?.logprob_drop, i?.accuracy_drop] : [])];
	}));
}

function summary(r: Report): string {
	const pct = (x: number | undefined) => (x === undefined ? '—' : `${(100 * x).toFixed(1)}%`);
	const lines: string[] = [];
	if (r.lens) {
		const { counts, threshold } = r.lens;
		lines.push(`p = ${r.lens.p}: ${counts.memorizing} neurons below chi = ${threshold.value.toPrecision(4)} (${threshold.from === 'otsu' ? "Otsu's split of log IPR" : 'given'}), ${counts.generalizing} at or above, ${counts.dead} dead`);
	}
	if (r.prune) {
		const groups = GROUPS.filter((g) => r.prune!.after[g]);
		lines.push(`pruned ${r.prune.pruned.length} (${r.prune.ablation} ablation): ${(groups.length ? groups : (['all'] as const)).map((g) => `${g} ${pct(r.prune!.before[g]?.accuracy)} -> ${pct(r.prune!.after[g]?.accuracy)}`).join(', ')}`);
	}
	if (r.importance) {
		const top = [...r.importance].sort((a, b) => b.logprob_drop - a.logprob_drop).slice(0, 5);
		lines.push(`most important neurons (logprob drop): ${top.map((x) => `L${x.layer}N${x.neuron} ${x.logprob_drop.toFixed(3)}`).join(', ')}`);
	}
	return lines.join('\n');
}

export async function run(argv: string[]): Promise<number> {
	const flags = parseFlags('neurons', argv, FLAGS);
	if (flags.help) {
		process.stdout.write(HELP);
		return 0;
	}
	const r = flags.r === undefined ? 2 : numberFlag(flags.r, 'r', { above: 0 });
	const chi = flags['prune-below'] === undefined ? undefined : numberFlag(flags['prune-below'], 'prune-below', { above: 0 });
	const ablation = (flags.ablation ?? DEFAULT_NEURON_ABLATION) as NeuronAblation;
	if (!NEURON_ABLATIONS.includes(ablation)) throw new InputError(`--ablation: '${flags.ablation}' is not one of zero, mean`);
	const steps = intFlag(flags['sweep-steps'], 'sweep-steps', 16, 0);
	checkOutputs({ json: flags.json, csv: flags.csv }, { prompts: flags.prompts, model: flags.model });
	// a modular task means all of its pairs unless --n says otherwise (the lens needs the full grid)
	if (flags.task !== undefined && flags.n === undefined) {
		const task = rethrowAsInput(() => parseTaskSpec(flags.task!));
		if (task.modulus) flags.n = String(distinctProblems(task));
	}
	const prompts = await promptSource(flags, 'neurons');
	const loaded = await loadForExperiment(flags, prompts, 'neurons');
	const { model, engine } = loaded;
	const s = model.spec;
	const layers = flags.layer === undefined ? undefined : [intFlag(flags.layer, 'layer', 0, 0)];
	if (layers && layers[0] >= s.n_layers) throw new InputError(`--layer: ${layers[0]} is not a block of this model (0 to ${s.n_layers - 1})`);
	const bar = progressBar();
	const report: Report = {};
	try {
		const ctx = new ScanContext(engine, loaded.set);
		const options: ScanOptions = { onProgress: bar.update };
		let layout;
		try {
			layout = modularLayout(prompts.records);
		} catch (e) {
			if (!flags.importance) throw new InputError(`${(e as Error).message}; --importance scores the neurons of any model and prompt set`);
		}
		if (layout) {
			if (flags['prune-below'] !== undefined && !layout.hasSplit) throw new InputError('--prune-below: the prompts carry no meta.split, meta.corrupted and meta.true_answer, so there are no groups to score');
			report.lens = await rethrowAsInputAsync(neuronLens(engine, loaded.set, layout, { layers, r, threshold: chi, onProgress: bar.update }));
			const scorer = new PruneScorer(ctx, layout, model.tokenizer, prompts.records, ablation);
			if (Number.isFinite(report.lens.threshold.value)) report.prune = await pruneBelow(scorer, report.lens.neurons, report.lens.threshold.value, options);
			if (steps > 0) report.sweep = await pruneSweep(scorer, report.lens.neurons, { ...options, steps, seed: prompts.seed });
		}
		if (flags.importance) report.importance = await neuronImportance(ctx, { ...options, layers, method: ablation });
	} finally {
		bar.done();
		await engine.dispose();
	}
	const provenance = reportProvenance(loaded, prompts, {
		method: report.lens ? `neuron_lens_ipr${r}_${ablation}` : `neuron_${ablation}_ablation`,
		metric: report.lens ? 'accuracy' : 'logprob',
		n: loaded.set.prompts.length,
		seed: prompts.seed // the sweep's random order is drawn from it
	});
	const json = reportJson(provenance, report);
	const files = [
		...(flags.json !== undefined ? [{ path: flags.json, data: json, flag: 'json' }] : []),
		...(flags.csv !== undefined ? [{ path: flags.csv, data: reportCsv(report), flag: 'csv' }] : [])
	];
	if (files.length === 0) process.stdout.write(json);
	else {
		writeAllAtomic(files);
		process.stdout.write(`${summary(report)}\nwrote ${files.map((f) => f.path).join(', ')}\n`);
	}
	return 0;
}
