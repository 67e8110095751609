// Glob matching for hook selections ('blocks.*.attn.hook_pattern'): `*` matches any run of characters,
// everything else is literal. A two-pointer greedy matcher, O(n·m) at worst, never a backtracking regex
// ('************x' compiled to /^.*.*…x$/ takes exponential time on a non-matching name).

/** Longest glob accepted; hook names are under 40 characters, so anything longer is a mistake. */
export const MAX_GLOB_LENGTH = 256;

export class GlobError extends Error {
	override name = 'GlobError';
}

/** Refuses a pattern longer than MAX_GLOB_LENGTH, naming its length. */
export function checkGlob(pattern: string): void {
	if (pattern.length > MAX_GLOB_LENGTH)
		throw new GlobError(`glob of ${pattern.length} characters, above the limit of ${MAX_GLOB_LENGTH}`);
}

/** Whether `text` matches `pattern` in full. */
export function globMatch(pattern: string, text: string): boolean {
	checkGlob(pattern);
	let p = 0;
	let t = 0;
	let star = -1; // index in pattern of the last '*' seen
	let resume = 0; // text index that '*' is currently extended to
	while (t < text.length) {
		if (p < pattern.length && pattern[p] !== '*' && pattern[p] === text[t]) {
			p++;
			t++;
		} else if (p < pattern.length && pattern[p] === '*') {
			star = p++;
			resume = t;
		} else if (star >= 0) {
			// Let the last '*' swallow one more character; earlier stars never need to move (greedy is exact
			// for '*'-only globs, since a later star can absorb anything an earlier one would).
			p = star + 1;
			t = ++resume;
		} else return false;
	}
	while (p < pattern.length && pattern[p] === '*') p++;
	return p === pattern.length;
}
