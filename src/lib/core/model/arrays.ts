// Max and min of arrays of any length. Math.max(...values) passes every element as an argument and
// throws "Maximum call stack size exceeded" past ~125k of them (a 151,936-token logits row, a large
// prompt set), so code that reduces an array that grows with vocabulary, prompts or layers uses these.

/** Math.max(initial, ...values) without the spread: the largest value, `initial` when there is none; NaN if any is NaN. */
export function maxOf(values: Iterable<number>, initial = -Infinity): number {
	let best = initial;
	for (const x of values) {
		if (x > best) best = x;
		else if (x !== x) return NaN;
	}
	return best;
}

/** Math.min(initial, ...values) without the spread: the smallest value, `initial` when there is none; NaN if any is NaN. */
export function minOf(values: Iterable<number>, initial = Infinity): number {
	let best = initial;
	for (const x of values) {
		if (x < best) best = x;
		else if (x !== x) return NaN;
	}
	return best;
}
