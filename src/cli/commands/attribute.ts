// `arithlens attribute`: direct logit attribution and the logit lens (DESIGN §11) of a prompt set;
// flag parsing and output only (core/experiments/attribution.ts computes, core/export/residual.ts writes).
import { attributeSet, positionTokens, type AttributionResult } from '../../lib/core/experiments/attribution';
import { attributionCsv, attributionJson, firstReadableLayer, topComponents } from '../../lib/core/export/residual';
import { parseFlags } from '../errors';
import { COMMON_FLAGS, COMMON_HELP, checkOutputs, loadForExperiment, progressBar, promptSource, reportProvenance, rethrowAsInputAsync, writeAllAtomic } from '../experiment-inputs';

export const HELP = `Usage: arithlens attribute --model <dir|id> (--prompts <file.jsonl> | --task <spec>) [options]

Direct logit attribution: at every answer position, the share of the answer token's logit written by
each component of the residual stream (embed, pos_embed, each head L<l>H<h>, each attention output
bias L<l>.b_O, each MLP<l>, and the constant of the final norm's bias and b_U), with the final norm's
statistics of the run frozen; the shares sum to the logit. At the first answer position, also the
share of logit(answer) - logit(counterfactual answer) (prompts with a counterfactual answer).
Logit lens: the final norm and unembedding applied to each block's input and to the last block's
output: log p and rank (1 = top) of the answer token per layer. Values are means over the prompts
that have each answer position.

Options:
${COMMON_HELP}
      --json <file>        {"provenance", "components", "positions": [{"index", "token", "n", "logit",
                           "components": [{"name", "logit", "logit_diff"}], "lens": [{"layer",
                           "logprob", "rank"}]}]}
      --per-prompt         the JSON also holds every prompt's values ("prompts")
      --csv <file>         one row per position and component: position,token,component,logit,logit_diff
  With neither --json nor --csv the JSON is printed to stdout.

Exit status: 0 success, 2 bad input (reason on stderr; nothing written), 1 any other failure.

Example:
  arithlens attribute --model models/add-3d --task add-3d --n 200 --json dla.json --csv dla.csv
`;

const FLAGS = {
	...COMMON_FLAGS,
	json: { type: 'string' },
	csv: { type: 'string' },
	'per-prompt': { type: 'boolean' }
} as const;

/** The summary line per position: top components and where the lens first reads the answer. */
function summary(result: AttributionResult, tokens: readonly string[]): string {
	return result.positions
		.map((p) => {
			const top = topComponents(p, 5).map((c) => `${c.name} ${c.logit.toFixed(3)}`).join(', ');
			const readable = firstReadableLayer(p);
			return `position ${p.index} (${JSON.stringify(tokens[p.index])}, ${p.n} prompts): logit ${p.logit.toFixed(3)}; top: ${top}; lens: rank 1 from layer ${readable ?? 'none'}`;
		})
		.join('\n');
}

export async function run(argv: string[]): Promise<number> {
	const flags = parseFlags('attribute', argv, FLAGS);
	if (flags.help) {
		process.stdout.write(HELP);
		return 0;
	}
	checkOutputs({ json: flags.json, csv: flags.csv }, { prompts: flags.prompts, model: flags.model });
	const prompts = await promptSource(flags, 'attribute');
	const loaded = await loadForExperiment(flags, prompts, 'attribute');
	const { model, engine } = loaded;
	const bar = progressBar();
	let result: AttributionResult;
	try {
		result = await rethrowAsInputAsync(attributeSet(engine, loaded.set, { onProgress: bar.update }));
	} finally {
		bar.done();
		await engine.dispose();
	}
	const tokens = positionTokens(model.tokenizer, loaded.set, result.positions.length);
	const provenance = reportProvenance(loaded, prompts, { method: 'direct_logit_attribution', metric: 'answer_logit', n: loaded.set.prompts.length });
	const json = attributionJson({ provenance, tokens, result, perPrompt: flags['per-prompt'] });
	const files = [
		...(flags.json !== undefined ? [{ path: flags.json, data: json, flag: 'json' }] : []),
		...(flags.csv !== undefined ? [{ path: flags.csv, data: attributionCsv(tokens, result.positions), flag: 'csv' }] : [])
	];
	if (files.length === 0) process.stdout.write(json);
	else {
		writeAllAtomic(files);
		process.stdout.write(`${summary(result, tokens)}\nwrote ${files.map((f) => f.path).join(', ')}\n`);
	}
	return 0;
}
