// Human labels for answer positions and scan methods. Answer positions are answer tokens, first
// written first; with a padded answer each is a fixed place value (units first when reversed), so
// it is labelled by its digit, otherwise only by its order.
import { EOS, digitAtAnswerPosition, type Task } from '$lib/core/tasks';
import { METHODS, SCAN_METHODS, type ScanMethod } from '$lib/core/experiments/methods';

export { SCAN_METHODS, type ScanMethod } from '$lib/core/experiments/methods';

const SUP = '⁰¹²³⁴⁵⁶⁷⁸⁹';
const power = (k: number) => `10${[...String(k)].map((d) => SUP[Number(d)]).join('')}`;
const ordinal = (i: number) => `${i + 1}${['st', 'nd', 'rd'][i] ?? 'th'}`;

/**
 * A label per answer position 0..P-1 for prompts of `task` (null: a prompt file, order only). `tokens`
 * are the texts of one prompt's answer tokens (answerTokenTexts): when a token holds more than one
 * character (GPT-2's ` 46`, a few-shot or verbal answer), positions are tokens, not characters, and are
 * labelled by that example's text.
 */
export function answerPositionLabels(task: Task | null, P: number, tokens?: readonly string[] | null): string[] {
	const prefix = task ? [...task.answerPrefix].length : 0;
	const byToken = tokens && tokens.some((t) => [...t].length !== 1 && t !== EOS);
	return Array.from({ length: P }, (_, i) => {
		if (byToken) return i < tokens.length ? `token ${i + 1} = ${JSON.stringify(tokens[i])}` : `${ordinal(i)} token`;
		if (!task) return `${ordinal(i)} token`;
		const d = i - prefix;
		if (d < 0) return `prefix ${JSON.stringify(task.answerPrefix[i])}`;
		if (task.answerWidth > 0) {
			if (d < task.answerWidth) return `digit ${power(digitAtAnswerPosition(d, task.answerWidth, task.reversed))}`;
			return task.eos && d === task.answerWidth ? '<eos>' : `${ordinal(i)} token`;
		}
		return `${ordinal(d)} ${task.eos ? 'token' : 'digit'}`;
	});
}

const byMethod = <T>(f: (m: ScanMethod) => T) => Object.fromEntries(SCAN_METHODS.map((m) => [m, f(m)])) as Record<ScanMethod, T>;

/** A method's name, from core's method table. */
export const METHOD_LABELS = byMethod((m) => METHODS[m].label);

/** What a method's score means, for legends and tooltips. */
export const METHOD_SCORE_LABELS = byMethod((m) => METHODS[m].scoreLabel);
