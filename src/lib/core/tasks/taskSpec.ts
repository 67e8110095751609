// Task spec strings `<op>:<digits>[:<option>…]` (e.g. `add:3`, `mul:2:pad:reversed`) <-> Task, plus
// the presets naming the formats the shipped models were trained on (models/train/tasks.py).
// Options are documented in docs/tasks.md; keep the two in step.

import { OPS, OP_NAMES, SYMBOLIC_TEMPLATE, TEMPLATE_PLACEHOLDERS, VERBAL_TEMPLATE, naturalAnswerWidth, type Op, type Task } from './task';

export class TaskSpecError extends Error {
	override name = 'TaskSpecError';
}

/** The formats of models/train/tasks.py FORMATS: add-3d answers `a+b` then <eos>; mul-2d pads and reverses. */
export const TASK_PRESETS: Readonly<Record<string, string>> = Object.freeze({
	'add-3d': 'add:3:eos',
	'add-3d-llama': 'add:3:eos',
	'mul-2d': 'mul:2:pad:reversed'
});

export const TASK_OPTIONS = ['pad', 'pad=<width>', 'reversed', 'eos', 'exact', 'verbal', 'space', 'template=<text>'] as const;

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

export function checkTemplate(template: string, spec = template): void {
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
	let verbal = false;
	for (const option of options) {
		const pad = /^pad(?:=(\d+))?$/.exec(option);
		if (pad) {
			task.padOperands = true;
			task.answerWidth = pad[1] === undefined ? naturalAnswerWidth(task) : Number(pad[1]);
		} else if (option === 'reversed') task.reversed = true;
		else if (option === 'eos') task.eos = true;
		else if (option === 'exact') task.exact = true;
		else if (option === 'space') task.answerPrefix = ' ';
		else if (option === 'verbal') verbal = true;
		else throw new TaskSpecError(`task spec '${spec}': unknown option '${option}' (valid: ${TASK_OPTIONS.join(', ')})`);
	}
	if (verbal && template !== undefined) throw new TaskSpecError(`task spec '${spec}': 'verbal' and 'template=' exclude each other`);
	if (verbal) [task.template, task.answerPrefix] = [VERBAL_TEMPLATE, ' '];
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
	const [da, db] = task.digits;
	const parts: string[] = [task.op, da === db ? `${da}` : `${da}x${db}`];
	if (task.exact) parts.push('exact');
	if (task.padOperands !== task.answerWidth > 0) {
		throw new TaskSpecError(`formatTaskSpec: a spec string pads operands and answer together (padOperands ${task.padOperands}, answerWidth ${task.answerWidth})`);
	}
	if (task.answerWidth > 0) parts.push(task.answerWidth === naturalAnswerWidth(task) ? 'pad' : `pad=${task.answerWidth}`);
	if (task.reversed) parts.push('reversed');
	if (task.eos) parts.push('eos');
	const verbal = task.template === VERBAL_TEMPLATE && task.answerPrefix === ' ';
	if (verbal) parts.push('verbal');
	else {
		if (task.answerPrefix === ' ') parts.push('space');
		else if (task.answerPrefix !== '') throw new TaskSpecError(`formatTaskSpec: answer prefix ${JSON.stringify(task.answerPrefix)} has no spec option (only ' ')`);
		if (task.template !== SYMBOLIC_TEMPLATE) parts.push(TEMPLATE_OPTION + task.template);
	}
	return parts.join(':');
}
