// Task spec strings `<op>:<digits>[:<option>…]` (e.g. `add:3`, `mul:2:pad:reversed`) <-> Task, plus
// the presets naming the formats the shipped models were trained on (models/train/tasks.py).
// Options are documented in docs/tasks.md; keep the two in step.

import { MAX_MODULUS, MODULAR_DEFAULTS, MODULAR_OPS, type Modular, type ModularSplit } from './modular';
import { DEFAULT_SHOT_SEPARATOR, NAMED_TEMPLATES, OPS, OP_NAMES, SYMBOLIC_TEMPLATE, TEMPLATE_PLACEHOLDERS, naturalAnswerWidth, type Op, type Task } from './task';

export class TaskSpecError extends Error {
	override name = 'TaskSpecError';
}

/** The formats of models/train/tasks.py FORMATS: add-3d answers `a+b` then <eos>; mul-2d pads and reverses. */
export const TASK_PRESETS: Readonly<Record<string, string>> = Object.freeze({
	'add-3d': 'add:3:eos',
	'add-3d-llama': 'add:3:eos',
	'mul-2d': 'mul:2:pad:reversed'
});

const TASK_OPTIONS = [
	'pad', 'pad=<width>', 'reversed', 'eos', 'exact', ...Object.keys(NAMED_TEMPLATES), 'space', 'shots=<k>', 'sep=<text>', 'template=<text>'
] as const;

/** The options of a modular task (`add:p97:train=0.3:xi=0.2:split=test`); it takes no other. */
const MODULAR_OPTIONS = ['train=<fraction>', 'xi=<fraction>', 'split=all|train|test'] as const;

/** A fraction option's value: a plain decimal in [lo, hi) (or (0, 1) for train=). */
function fraction(text: string, name: string, spec: string, positive: boolean): number {
	const v = Number(text);
	if (!/^(0|1)?(\.\d+)?$/.test(text) || text === '' || text === '.' || !(positive ? v > 0 && v < 1 : v >= 0 && v < 1))
		throw new TaskSpecError(`task spec '${spec}': ${name}=${text} must be a decimal in ${positive ? '(0, 1)' : '[0, 1)'}`);
	return v;
}

/** `add:p97[:train=f][:xi=f][:split=s]`: the modular task of tasks/modular.ts, in the spaced format `12 + 34 =` → ` 46`. */
function parseModular(op: Op, pText: string, options: string[], spec: string): Task {
	if (!MODULAR_OPS.includes(op)) throw new TaskSpecError(`task spec '${spec}': modular tasks take ${MODULAR_OPS.join(', ')}, not ${op}`);
	const p = Number(pText);
	if (!Number.isInteger(p) || p < 2 || p > MAX_MODULUS) throw new TaskSpecError(`task spec '${spec}': modulus p${pText} must be an integer from 2 to ${MAX_MODULUS}`);
	const modulus: Modular = { p, ...MODULAR_DEFAULTS };
	for (const option of options) {
		const [name, value] = [option.slice(0, option.indexOf('=')), option.slice(option.indexOf('=') + 1)];
		if (name === 'train') modulus.train = fraction(value, name, spec, true);
		else if (name === 'xi') modulus.xi = fraction(value, name, spec, false);
		else if (name === 'split' && ['all', 'train', 'test'].includes(value)) modulus.split = value as ModularSplit;
		else throw new TaskSpecError(`task spec '${spec}': unknown modular option '${option}' (valid: ${MODULAR_OPTIONS.join(', ')})`);
	}
	const width = String(p - 1).length;
	return { op, digits: [width, width], exact: false, padOperands: false, answerWidth: 0, reversed: false, eos: false, template: NAMED_TEMPLATES.spaced, answerPrefix: ' ', modulus };
}

/** Few-shot prompts longer than this many examples are refused (each adds a whole solved problem). */
export const MAX_SHOTS = 64;

/** pad=<width> above this is refused: answers are at most 15 + 15 digits, wider padding is a typo and a
 * huge width would build prompts of that many zeros. */
export const MAX_PAD = 64;

/** `sep=` writes newline, tab and backslash as \n, \t and \\ (a spec is one line; ':' separates options). */
const SEP_ESCAPES: Readonly<Record<string, string>> = { n: '\n', t: '\t', '\\': '\\' };

export function unescapeSeparator(text: string, spec = text): string {
	return text.replace(/\\(.?)/g, (_, c: string) => {
		if (!(c in SEP_ESCAPES)) throw new TaskSpecError(`task spec '${spec}': sep= knows the escapes \\n, \\t and \\\\, not '\\${c}'`);
		return SEP_ESCAPES[c];
	});
}

export const escapeSeparator = (sep: string): string => sep.replace(/[\\\n\t]/g, (c) => (c === '\n' ? '\\n' : c === '\t' ? '\\t' : '\\\\'));

const TEMPLATE_OPTION = 'template=';

function parseDigits(text: string, op: Op, spec: string): [number, number] {
	const m = /^(\d+)(?:x(\d+))?$/.exec(text);
	if (!m) throw new TaskSpecError(`task spec '${spec}': digits '${text}' must be N or NxM (operand digit counts, e.g. 3 or 3x2)`);
	const digits: [number, number] = [Number(m[1]), Number(m[2] ?? m[1])];
	const max = OPS[op].maxDigits;
	for (const d of digits) {
		if (d < 1 || d > max) throw new TaskSpecError(`task spec '${spec}': ${op} operands need 1 to ${max} digits, got ${d}`);
	}
	return digits;
}

function checkTemplate(template: string, spec = template): void {
	for (const m of template.matchAll(/\{[^}]*\}/g)) {
		if (!(TEMPLATE_PLACEHOLDERS as readonly string[]).includes(m[0])) {
			throw new TaskSpecError(`task spec '${spec}': unknown placeholder ${m[0]} in template (valid: ${TEMPLATE_PLACEHOLDERS.join(' ')})`);
		}
	}
	if (!template.includes('{a}') || !template.includes('{b}')) {
		throw new TaskSpecError(`task spec '${spec}': template '${template}' must contain {a} and {b}`);
	}
}

/** Parse a spec string or a preset name (add-3d, add-3d-llama, mul-2d). Throws TaskSpecError naming valid values. */
export function parseTaskSpec(spec: string): Task {
	const text = spec.trim();
	if (text in TASK_PRESETS) return parseTaskSpec(TASK_PRESETS[text]);
	// A custom template may itself contain ':' (e.g. `Answer:`), so it takes the rest of the string.
	const at = text.indexOf(`:${TEMPLATE_OPTION}`);
	const head = at < 0 ? text : text.slice(0, at);
	const template = at < 0 ? undefined : text.slice(at + 1 + TEMPLATE_OPTION.length);
	const [opText, digitsText, ...options] = head.split(':');
	if (!(OP_NAMES as string[]).includes(opText)) {
		const presets = Object.keys(TASK_PRESETS).join(', ');
		throw new TaskSpecError(`task spec '${spec}': unknown operation '${opText}' (valid: ${OP_NAMES.join(', ')}; or a preset: ${presets})`);
	}
	const op = opText as Op;
	if (digitsText === undefined || digitsText === '') throw new TaskSpecError(`task spec '${spec}': missing digit count, as in '${op}:3'`);
	const modular = /^p(\d+)$/.exec(digitsText);
	if (modular) {
		if (template !== undefined) throw new TaskSpecError(`task spec '${spec}': a modular task has its own format; template= does not apply`);
		return parseModular(op, modular[1], options, spec);
	}
	const task: Task = {
		op,
		digits: parseDigits(digitsText, op, spec),
		exact: false,
		padOperands: false,
		answerWidth: 0,
		reversed: false,
		eos: false,
		template: SYMBOLIC_TEMPLATE,
		answerPrefix: ''
	};
	let named: string | undefined;
	for (const option of options) {
		const shots = /^shots=(\d+)$/.exec(option);
		if (option.startsWith('sep=')) {
			task.separator = unescapeSeparator(option.slice(4), spec);
			continue;
		}
		if (shots) {
			task.shots = Number(shots[1]);
			if (task.shots > MAX_SHOTS) throw new TaskSpecError(`task spec '${spec}': shots=${task.shots} is above the limit of ${MAX_SHOTS} examples`);
			continue;
		}
		if (Object.hasOwn(NAMED_TEMPLATES, option)) {
			if (named !== undefined) throw new TaskSpecError(`task spec '${spec}': '${named}' and '${option}' are both templates; give one`);
			named = option;
			continue;
		}
		const pad = /^pad(?:=(\d+))?$/.exec(option);
		if (pad) {
			task.padOperands = true;
			task.answerWidth = pad[1] === undefined ? naturalAnswerWidth(task) : Number(pad[1]);
			if (task.answerWidth > MAX_PAD) throw new TaskSpecError(`task spec '${spec}': pad=${pad[1]} is above the limit of ${MAX_PAD} digits`);
		} else if (option === 'reversed') task.reversed = true;
		else if (option === 'eos') task.eos = true;
		else if (option === 'exact') task.exact = true;
		else if (option === 'space') task.answerPrefix = ' ';
		else throw new TaskSpecError(`task spec '${spec}': unknown option '${option}' (valid: ${TASK_OPTIONS.join(', ')})`);
	}
	if (named !== undefined && template !== undefined) throw new TaskSpecError(`task spec '${spec}': '${named}' and 'template=' exclude each other`);
	if (named !== undefined) [task.template, task.answerPrefix] = [NAMED_TEMPLATES[named], ' '];
	if (task.separator !== undefined && !task.shots) throw new TaskSpecError(`task spec '${spec}': sep= needs shots=<k> (it separates the solved examples)`);
	if (template !== undefined) {
		checkTemplate(template, spec);
		task.template = template;
	}
	const widest = naturalAnswerWidth(task);
	if (task.answerWidth > 0 && task.answerWidth < widest) {
		throw new TaskSpecError(`task spec '${spec}': pad=${task.answerWidth} is narrower than the widest ${op} answer (${widest} digits)`);
	}
	return task;
}

/** The canonical spec string of a task (what provenance records); parseTaskSpec(formatTaskSpec(t)) equals t. */
export function formatTaskSpec(task: Task): string {
	if (task.modulus) {
		const { p, train, xi, split } = task.modulus;
		const parts = [task.op, `p${p}`];
		if (train !== MODULAR_DEFAULTS.train) parts.push(`train=${train}`);
		if (xi !== MODULAR_DEFAULTS.xi) parts.push(`xi=${xi}`);
		if (split !== MODULAR_DEFAULTS.split) parts.push(`split=${split}`);
		return parts.join(':');
	}
	const [da, db] = task.digits;
	const parts: string[] = [task.op, da === db ? `${da}` : `${da}x${db}`];
	if (task.exact) parts.push('exact');
	if (task.padOperands !== task.answerWidth > 0) {
		throw new TaskSpecError(`formatTaskSpec: a spec string pads operands and answer together (padOperands ${task.padOperands}, answerWidth ${task.answerWidth})`);
	}
	if (task.answerWidth > 0) parts.push(task.answerWidth === naturalAnswerWidth(task) ? 'pad' : `pad=${task.answerWidth}`);
	if (task.reversed) parts.push('reversed');
	if (task.eos) parts.push('eos');
	if (task.shots) parts.push(`shots=${task.shots}`);
	if (task.shots && task.separator !== undefined && task.separator !== DEFAULT_SHOT_SEPARATOR) {
		if (task.separator.includes(':')) throw new TaskSpecError(`formatTaskSpec: separator ${JSON.stringify(task.separator)} has a ':', which a spec string cannot hold`);
		parts.push(`sep=${escapeSeparator(task.separator)}`);
	}
	const named = task.answerPrefix === ' ' ? Object.keys(NAMED_TEMPLATES).find((k) => NAMED_TEMPLATES[k] === task.template) : undefined;
	if (named) parts.push(named);
	else {
		if (task.answerPrefix === ' ') parts.push('space');
		else if (task.answerPrefix !== '') throw new TaskSpecError(`formatTaskSpec: answer prefix ${JSON.stringify(task.answerPrefix)} has no spec option (only ' ')`);
		if (task.template !== SYMBOLIC_TEMPLATE) parts.push(TEMPLATE_OPTION + task.template);
	}
	return parts.join(':');
}
