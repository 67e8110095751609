// What each token of an arithmetic prompt is (operand a's digits, the operator, operand b's digits,
// '=', special tokens, other text, the answer), and how much attention a head pays from the
// positions that predict answer tokens to each kind. Token strings are the tokenizer's own.
import { OPS } from '$lib/core/tasks';

export type Role = 'special' | 'a' | 'op' | 'b' | '=' | 'other' | 'answer';
export const ROLE_COLUMNS: readonly Role[] = ['a', 'op', 'b', '=', 'special', 'other', 'answer'];
export const ROLE_LABELS: Record<Role, string> = {
	special: 'special',
	a: 'operand a',
	op: 'operator',
	b: 'operand b',
	'=': '=',
	other: 'other text',
	answer: 'answer so far'
};

const OPERATORS = new Set(Object.values(OPS).flatMap((o) => [o.symbol, ...o.word.split(' ')]));
const isSpecial = (t: string) => /^<[^<>]*>$|^\[[A-Z]+\]$/.test(t);

/** The role of each token: digits before the operator are a, after it b, until the '='. */
export function tokenRoles(tokens: readonly string[], promptLength: number): Role[] {
	let seen: 'none' | 'a' | 'op' | 'b' | '=' = 'none';
	return tokens.map((raw, i): Role => {
		if (i >= promptLength) return 'answer';
		const t = raw.replace(/^[\sĠ▁]+/, '');
		if (isSpecial(raw)) return 'special';
		if (/^\d+$/.test(t) && (seen === 'none' || seen === 'a')) return (seen = 'a');
		if (/^\d+$/.test(t) && (seen === 'op' || seen === 'b')) return (seen = 'b');
		if (OPERATORS.has(t) && (seen === 'a' || seen === 'op')) return (seen = 'op');
		if (t === '=' && seen === 'b') return (seen = '=');
		return 'other';
	});
}

/**
 * pattern[query][key] of one head -> for each answer position i (the query at promptLength - 1 + i,
 * which predicts answer token i) the attention summed over the keys of each role.
 */
export function roleAttention(pattern: readonly ArrayLike<number>[], roles: readonly Role[], promptLength: number, answerLength: number): Record<Role, number>[] {
	return Array.from({ length: answerLength }, (_, i) => {
		const row = pattern[promptLength - 1 + i];
		const sums = Object.fromEntries(ROLE_COLUMNS.map((r) => [r, 0])) as Record<Role, number>;
		for (let k = 0; k < roles.length && row; k++) sums[roles[k]] += row[k];
		return sums;
	});
}
