// `arithlens plan`: a scan's head table -> a selective fine-tuning plan (core/export/plan.ts): a PEFT
// LoraConfig on the attention of the layers holding the top heads, or a precise-SFT head mask.
import { readFileSync, statSync } from 'node:fs';
import { topK, type TopK } from '../../lib/core/export/rank';
import { headMaskPlan, loraPlan } from '../../lib/core/export/plan';
import type { HeadRef } from '../../lib/core/model/spec';
import { specFromConfig } from '../../lib/core/model/config';
import { jsonProblem, ModelLoadError, parseJson } from '../../lib/core/model/errors';
import type { Spec } from '../../lib/core/model/spec';
import { InputError, parseFlags } from '../errors';
import { checkOutputs, intFlag, numberFlag, required, writeAllAtomic } from '../experiment-inputs';
import { resolveModelSource } from '../model-source';

export const HELP = `Usage: arithlens plan --scan <scan.json> (--top <K> | --top-percent <P>) --format <peft|mask> [options]

Turns the head ranking of 'arithlens scan --json' into a fine-tuning plan for the top heads.

Options:
      --scan <file>        the JSON written by 'arithlens scan --json'
      --top <K>            the K best-ranked heads
      --top-percent <P>    the best-ranked P percent of all heads (rounded up)
      --format <f>         peft: a peft.LoraConfig (JSON keys of LoraConfig(**json)) on the attention
                           modules of the layers holding those heads;
                           mask: the checkpoint tensor slices of exactly those heads (precise SFT)
      --model <dir|id>     where to read config.json (default: the model recorded in the scan)
      --revision <rev>     hub revision (hub ids only)
  -o, --out <file>         write the plan there (otherwise it is printed to stdout)
  -h, --help               this help

Exit status: 0 success, 2 bad input (reason on stderr; nothing written), 1 any other failure.

Example:
  arithlens plan --scan heads.json --top-percent 5 --format peft --out lora.json
`;

const FLAGS = {
	scan: { type: 'string' },
	top: { type: 'string' },
	'top-percent': { type: 'string' },
	format: { type: 'string' },
	model: { type: 'string', short: 'm' },
	revision: { type: 'string' },
	out: { type: 'string', short: 'o' },
	help: { type: 'boolean', short: 'h' }
} as const;

interface ScanFile {
	provenance?: { model?: { id?: string; revision?: string } };
	heads: { layer: number; head: number; rank: number }[];
}

export function readScan(path: string): ScanFile {
	if (!statSync(path, { throwIfNoEntry: false })?.isFile()) throw new InputError(`--scan: no file '${path}'`);
	let scan: unknown;
	try {
		scan = JSON.parse(readFileSync(path, 'utf8'));
	} catch (e) {
		throw new InputError(`--scan: '${path}' is not JSON (${jsonProblem(e)})`);
	}
	const heads = (scan as ScanFile | null)?.heads;
	const ok = Array.isArray(heads) && heads.length > 0 && heads.every((h) => [h?.layer, h?.head, h?.rank].every(Number.isInteger));
	if (!ok) throw new InputError(`--scan: '${path}' has no "heads" list of {layer, head, rank} (write it with 'arithlens scan --json')`);
	// A head listed twice would be counted twice in --top K and get two ranks: the table is not a scan's.
	const seen = new Set<string>();
	for (const { layer, head } of heads) {
		const name = `L${layer}H${head}`;
		if (seen.has(name)) throw new InputError(`--scan: '${path}' lists head ${name} twice`);
		seen.add(name);
	}
	return scan as ScanFile;
}

/** Refuses a scan naming a head the model does not have (a scan of another model). */
export function checkScanFits(scan: ScanFile, path: string, spec: Spec, model: string): void {
	const missing = scan.heads.find(({ layer, head }) => layer < 0 || layer >= spec.n_layers || head < 0 || head >= spec.n_heads);
	if (missing) {
		throw new InputError(`--scan: '${path}' names head L${missing.layer}H${missing.head}, which ${model} lacks (${spec.n_layers} layers of ${spec.n_heads} heads)`);
	}
}

async function specOf(model: string, revision: string | undefined): Promise<Spec> {
	const { source } = resolveModelSource({ model, revision });
	const bytes = await source.read('config.json');
	if (!bytes) throw new InputError(`--model: no config.json in '${model}'`);
	try {
		return specFromConfig(parseJson('config.json', bytes));
	} catch (e) {
		throw new InputError(`${model}/config.json: ${e instanceof ModelLoadError ? e.problem : (e as Error).message}`);
	}
}

export function topOf(flags: { top?: string; 'top-percent'?: string }): TopK {
	if ((flags.top === undefined) === (flags['top-percent'] === undefined)) throw new InputError("give exactly one of --top <K> or --top-percent <P>");
	if (flags.top !== undefined) return { count: intFlag(flags.top, 'top', 0, 1) };
	return { percent: numberFlag(flags['top-percent']!, 'top-percent', { above: 0, max: 100 }) };
}

export async function run(argv: string[]): Promise<number> {
	const flags = parseFlags('plan', argv, FLAGS);
	if (flags.help) {
		process.stdout.write(HELP);
		return 0;
	}
	const scan = readScan(required(flags.scan, 'scan', 'plan'));
	const k = topOf(flags);
	const format = required(flags.format, 'format', 'plan');
	if (format !== 'peft' && format !== 'mask') throw new InputError(`--format: '${format}' is not one of peft, mask`);
	checkOutputs({ out: flags.out }, { scan: flags.scan, model: flags.model });
	const model = flags.model ?? scan.provenance?.model?.id;
	if (!model) throw new InputError('--model: the scan records no model; give --model');
	// A local model is recorded by its folder's name only (provenance keeps no local paths).
	if (!flags.model && !statSync(model, { throwIfNoEntry: false }) && !/^[\w.-]+\/[\w.-]+$/.test(model))
		throw new InputError(`--model: the scan was made with the local model '${model}', not a folder here; give --model <dir>`);
	const spec = await specOf(model, flags.revision ?? (flags.model ? undefined : scan.provenance?.model?.revision));
	const ranked = [...scan.heads].sort((a, b) => a.rank - b.rank);
	const heads: HeadRef[] = topK(ranked, k).map(({ layer, head }) => ({ layer, head }));
	if (heads.length === 0) throw new InputError('no heads selected; raise --top or --top-percent');
	let plan: unknown;
	try {
		plan = format === 'peft' ? loraPlan(spec, heads) : headMaskPlan(spec, heads);
	} catch (e) {
		if (e instanceof RangeError) throw new InputError(`the scan does not fit ${model}: ${e.message}`);
		throw e;
	}
	const json = JSON.stringify(plan, null, 2) + '\n';
	if (flags.out === undefined) process.stdout.write(json);
	else {
		writeAllAtomic([{ path: flags.out, data: json, flag: 'out' }]);
		process.stdout.write(`${format} plan for ${heads.length} heads (${heads.map((h) => `L${h.layer}H${h.head}`).join(', ')}); wrote ${flags.out}\n`);
	}
	return 0;
}
