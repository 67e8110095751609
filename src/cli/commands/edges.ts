// `arithlens edges`: head-to-head path patching (DESIGN §11) and the circuit graph of its strong
// edges; flag parsing and output only (core/experiments/edges.ts computes, core/export/residual.ts writes).
import { edgeScan, nodeName, type EdgeResult } from '../../lib/core/experiments/edges';
import { ScanContext, type ScanOptions } from '../../lib/core/experiments/scan';
import { circuitGraph, circuitGraphSvg, edgesCsv, edgesJson } from '../../lib/core/export/residual';
import type { HeadRef, Spec } from '../../lib/core/model/spec';
import { InputError, parseFlags } from '../errors';
import {
	COMMON_FLAGS, COMMON_HELP, checkOutputs, intFlag, keepCounterfactuals, loadForExperiment, numberFlag, progressBar, promptSource, reportProvenance, rethrowAsInputAsync, writeAllAtomic
} from '../experiment-inputs';

export const HELP = `Usage: arithlens edges --model <dir|id> (--prompts <file.jsonl> | --task <spec>) [options]

Head-to-head path patching (Wang et al. 2022): for each sender head, the clean run with every head
frozen at its clean z except the sender, which takes its counterfactual z (MLPs and norms recompute);
each later head's z and each later MLP's output in that run then replace only that receiver's in a
clean run. Edge score = mean relative change of the correct answer's logit, (patched - clean) /
|clean|, as path patching to the logits (also listed, receiver "logits"). Strongly negative edges
carry the answer. Needs a counterfactual for every prompt (generated sets have one; the others are
left out with a note). Cost: about senders x receivers x prompts rows.

Options:
${COMMON_HELP}
      --heads <list>       restrict senders and receivers to these heads, e.g. L0H1,L1H3 (default all)
      --no-mlps            no MLP receivers
      --threshold <x>      the circuit graph keeps edges with |score| >= x (default 0.05)
      --json <file>        {"provenance", "n", "clean", "edges": [{"sender", "receiver", "score"}]}
      --csv <file>         sender,receiver,score
      --svg <file>         the circuit graph: nodes by layer, edges above the threshold
      --batch-rows <n>     rows per forward (default: from --memory-mb)
      --memory-mb <n>      memory budget of one batch (default 256)
  With none of --json, --csv, --svg the JSON is printed to stdout.

Exit status: 0 success, 2 bad input (reason on stderr; nothing written), 1 any other failure.

Example:
  arithlens edges --model models/add-3d --task add-3d --n 32 --json edges.json --svg circuit.svg
`;

const FLAGS = {
	...COMMON_FLAGS,
	heads: { type: 'string' },
	'no-mlps': { type: 'boolean' },
	threshold: { type: 'string' },
	json: { type: 'string' },
	csv: { type: 'string' },
	svg: { type: 'string' },
	'batch-rows': { type: 'string' },
	'memory-mb': { type: 'string' }
} as const;

/** --heads L0H1,L1H3 as head refs, each checked against the model. */
export function parseHeadList(text: string, s: Spec): HeadRef[] {
	const seen = new Set<string>();
	return text.split(',').map((item) => {
		const m = /^L(\d+)H(\d+)$/.exec(item.trim());
		if (!m) throw new InputError(`--heads: '${item.trim()}' is not a head such as L0H1`);
		const [layer, head] = [Number(m[1]), Number(m[2])];
		if (layer >= s.n_layers || head >= s.n_heads) throw new InputError(`--heads: ${item.trim()} is not a head of this model (${s.n_layers} layers of ${s.n_heads} heads)`);
		if (seen.has(item.trim())) throw new InputError(`--heads: ${item.trim()} is named twice`);
		seen.add(item.trim());
		return { layer, head };
	});
}

export async function run(argv: string[]): Promise<number> {
	const flags = parseFlags('edges', argv, FLAGS);
	if (flags.help) {
		process.stdout.write(HELP);
		return 0;
	}
	const threshold = flags.threshold === undefined ? 0.05 : numberFlag(flags.threshold, 'threshold', { min: 0 });
	checkOutputs({ json: flags.json, csv: flags.csv, svg: flags.svg }, { prompts: flags.prompts, model: flags.model });
	const options: ScanOptions = {};
	if (flags['batch-rows'] !== undefined) options.batchRows = intFlag(flags['batch-rows'], 'batch-rows', 0, 1);
	if (flags['memory-mb'] !== undefined) options.memoryBudget = intFlag(flags['memory-mb'], 'memory-mb', 0, 1) * 1024 ** 2;
	const prompts = await promptSource(flags, 'edges');
	const loaded = await loadForExperiment(flags, prompts, 'edges');
	const { model, engine } = loaded;
	const s = model.spec;
	const bar = progressBar();
	let result: EdgeResult;
	try {
		const heads = flags.heads === undefined ? undefined : parseHeadList(flags.heads, s);
		keepCounterfactuals(loaded, prompts, 'prompt', 'edges');
		const ctx = new ScanContext(engine, loaded.set);
		result = await rethrowAsInputAsync(edgeScan(ctx, { ...options, senders: heads, receivers: heads, mlps: !flags['no-mlps'], onProgress: bar.update }));
	} finally {
		bar.done();
		await engine.dispose();
	}
	const provenance = reportProvenance(loaded, prompts, { method: 'path_edges', metric: 'answer_logit_rel', n: result.n });
	const graph = circuitGraph(s, result.edges, threshold);
	const json = edgesJson(provenance, result);
	const title = `${provenance.model.id}: edges with |score| >= ${threshold} (${graph.links.length} of ${result.edges.length}), ${result.n} prompts`;
	const files = [
		...(flags.json !== undefined ? [{ path: flags.json, data: json, flag: 'json' }] : []),
		...(flags.csv !== undefined ? [{ path: flags.csv, data: edgesCsv(result.edges), flag: 'csv' }] : []),
		...(flags.svg !== undefined ? [{ path: flags.svg, data: circuitGraphSvg(graph, title), flag: 'svg' }] : [])
	];
	if (files.length === 0) process.stdout.write(json);
	else {
		writeAllAtomic(files);
		const top = [...result.edges].sort((a, b) => a.score - b.score).slice(0, 5).map((e) => `${nodeName(e.sender)}->${nodeName(e.receiver)} ${e.score.toFixed(4)}`);
		process.stdout.write(`${result.edges.length} edges on ${result.n} prompts; strongest: ${top.join(', ')}; ${graph.links.length} above ${threshold}; wrote ${files.map((f) => f.path).join(', ')}\n`);
	}
	return 0;
}
