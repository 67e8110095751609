// Ranking helpers: rank components by score (1 = most important) and keep the top k by count or
// percent. Ablation and patching scores rank high-first; path-patching relative changes rank
// low-first (a key head makes the answer logit drop); 'magnitude' ranks by |score|.

export type RankOrder = 'descending' | 'ascending' | 'magnitude';
const RANK_ORDERS: readonly RankOrder[] = ['descending', 'ascending', 'magnitude'];

/** Rank (1-based) of each score. NaN ranks last; ties keep input order, so ranks are a permutation. */
export function ranks(scores: readonly number[], order: RankOrder = 'descending'): number[] {
	if (!RANK_ORDERS.includes(order)) throw new RangeError(`ranks: order '${order}' (valid: ${RANK_ORDERS.join(', ')})`);
	const key = (v: number) => (order === 'descending' ? -v : order === 'ascending' ? v : -Math.abs(v));
	const idx = scores.map((_, i) => i);
	idx.sort((i, j) => {
		const [a, b] = [key(scores[i]), key(scores[j])];
		if (Number.isNaN(a) || Number.isNaN(b)) return Number(Number.isNaN(a)) - Number(Number.isNaN(b)) || i - j;
		return a - b || i - j;
	});
	const out = new Array<number>(scores.length);
	idx.forEach((i, r) => (out[i] = r + 1));
	return out;
}

export type TopK = { count: number } | { percent: number };

/** The first entries of a rank-sorted list: `count` of them, or ceil(percent% of the list) (at least one if percent > 0). */
export function topK<T>(sorted: readonly T[], k: TopK): T[] {
	const n = 'count' in k ? k.count : Math.ceil((k.percent / 100) * sorted.length - 1e-9);
	const limit = 'count' in k ? Infinity : 100;
	const value = 'count' in k ? k.count : k.percent;
	if (!Number.isFinite(value) || value < 0 || value > limit || ('count' in k && !Number.isInteger(value))) {
		throw new RangeError(`topK: ${'count' in k ? 'count must be a non-negative integer' : 'percent must be in [0, 100]'}, got ${value}`);
	}
	return sorted.slice(0, n);
}
