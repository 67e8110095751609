// Seeded pseudo-random numbers (mulberry32) so prompt sets, counterfactuals and resampling
// permutations are reproducible from one integer seed in Node and the browser alike.

export interface Rng {
	/** Uniform in [0, 1) with 53 random bits (two 32-bit draws), so large integer ranges stay uniform. */
	float(): number;
	/** Uniform integer in [lo, hi], both inclusive. */
	int(lo: number, hi: number): number;
	/** Fisher–Yates shuffle in place; returns the same array. */
	shuffle<T>(items: T[]): T[];
}

/** mulberry32: a 32-bit state, passes the usual statistical batteries for this kind of use. */
function mulberry32(seed: number): () => number {
	let state = seed >>> 0;
	return () => {
		state = (state + 0x6d2b79f5) >>> 0;
		let t = state;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return (t ^ (t >>> 14)) >>> 0;
	};
}

export function createRng(seed: number): Rng {
	if (!Number.isInteger(seed)) throw new RangeError(`createRng: seed must be an integer, got ${seed}`);
	const next = mulberry32(seed);
	const float = () => (next() * 2 ** 21 + (next() >>> 11)) / 2 ** 53;
	return {
		float,
		int(lo, hi) {
			if (!Number.isSafeInteger(lo) || !Number.isSafeInteger(hi) || hi < lo) {
				throw new RangeError(`Rng.int: need integers lo <= hi, got [${lo}, ${hi}]`);
			}
			return lo + Math.floor(float() * (hi - lo + 1));
		},
		shuffle(items) {
			for (let i = items.length - 1; i > 0; i--) {
				const j = Math.floor(float() * (i + 1));
				[items[i], items[j]] = [items[j], items[i]];
			}
			return items;
		}
	};
}
