// The task builder's modular tasks (docs/tasks.md "Modular tasks"; DESIGN §10): add|sub|mul:p<p> with
// a train fraction, label corruption ξ and the split a set holds. Switching to or editing one makes
// n every pair of the split, which the neuron lens needs.
import { distinctProblems, formatTaskSpec, MAX_MODULUS, MODULAR_DEFAULTS, MODULAR_OPS, parseTaskSpec, type Modular, type Task } from '$lib/core/tasks';

export { MAX_MODULUS, MODULAR_OPS, type Modular };
export const DEFAULT_MODULUS = 97;

/** The spec of `task` with its modulus changed (or added: a modular task of p = 97), and its pair count. */
export function modularSpec(task: Task, change: Partial<Modular> = {}): { spec: string; n: number } {
	const op = MODULAR_OPS.includes(task.op) ? task.op : 'add';
	const modulus = { p: DEFAULT_MODULUS, ...MODULAR_DEFAULTS, ...task.modulus, ...change };
	const spec = formatTaskSpec({ ...parseTaskSpec(`${op}:p${modulus.p}`), modulus });
	return { spec, n: distinctProblems(parseTaskSpec(spec)) };
}

/** Every pair of a modular spec's split (what the neuron lens needs); null for other specs. */
export function allPairs(spec: string): number | null {
	try {
		const task = parseTaskSpec(spec);
		return task.modulus ? distinctProblems(task) : null;
	} catch {
		return null;
	}
}

/** The digit task the builder goes back to from a modular one. */
export const DIGITS_SPEC = 'add:3:eos';
