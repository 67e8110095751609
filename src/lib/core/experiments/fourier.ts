// The Fourier side of the neuron lens (DESIGN §10; Doshi et al. 2023, Nanda et al. 2023): a neuron's
// activation grid A[a][b] over all p² operand pairs, its 2-D DFT magnitudes F = |DFT2(A − mean A)|,
// the inverse participation ratio IPR_r = Σ_k (F_k / ‖F‖₂)^(2r) (1 = one frequency, 1/(p² − 1) = flat;
// generalizing neurons are periodic, memorizing ones are not), the dominant frequency pair and its
// share of the power, and a threshold between the two groups read from the data.
//
// p is prime (97) in the tasks this serves, so there is no radix-2 FFT; the transform is two passes of
// direct DFTs, each coefficient a dot product with a row of a p × p cosine/sine table, using that A is
// real: a row's DFT at −k is the conjugate of its DFT at k and |F| is symmetric under k -> −k, so half
// of each pass suffices (~5 M multiply-adds per neuron at p = 97).

/** cos and sin of 2π·k·j/p as p × p tables (row k): each DFT coefficient is then a dot product of contiguous rows. */
function twiddles(p: number): { cos: Float64Array; sin: Float64Array } {
	const cos = new Float64Array(p * p);
	const sin = new Float64Array(p * p);
	for (let k = 0; k < p; k++)
		for (let j = 0; j < p; j++) {
			const angle = (2 * Math.PI * ((k * j) % p)) / p;
			cos[k * p + j] = Math.cos(angle);
			sin[k * p + j] = Math.sin(angle);
		}
	return { cos, sin };
}

const TABLES = new Map<number, { cos: Float64Array; sin: Float64Array }>();
const tablesOf = (p: number) => TABLES.get(p) ?? (TABLES.set(p, twiddles(p)), TABLES.get(p)!);

/**
 * |DFT2(A − mean A)| of a p × p grid (row-major, A[a * p + b]), as p × p magnitudes F[ka * p + kb].
 * F[0] is 0 (the mean is removed).
 */
export function spectrum(grid: ArrayLike<number>, p: number): Float64Array {
	if (grid.length !== p * p) throw new RangeError(`spectrum: ${grid.length} values, not ${p} × ${p}`);
	const { cos, sin } = tablesOf(p);
	const x = new Float64Array(p * p);
	let mean = 0;
	for (let i = 0; i < p * p; i++) mean += grid[i];
	mean /= p * p;
	for (let i = 0; i < p * p; i++) x[i] = grid[i] - mean;
	const half = Math.floor(p / 2);
	// pass 1: each row's DFT over b for kb in [0, half] (the rest are conjugates), stored by column
	// (reT[kb * p + a]) so that pass 2 reads contiguous rows too
	const reT = new Float64Array(p * p);
	const imT = new Float64Array(p * p);
	for (let a = 0; a < p; a++) {
		const row = a * p;
		for (let kb = 0; kb <= half; kb++) {
			const t = kb * p;
			let sr = 0;
			let si = 0;
			for (let b = 0; b < p; b++) {
				sr += x[row + b] * cos[t + b];
				si -= x[row + b] * sin[t + b];
			}
			reT[t + a] = sr;
			imT[t + a] = si;
		}
	}
	// pass 2: each column's DFT over a; |F[ka][kb]| = |F[−ka][−kb]|, so columns kb ≤ half suffice
	const out = new Float64Array(p * p);
	for (let kb = 0; kb <= half; kb++) {
		const col = kb * p;
		for (let ka = 0; ka < p; ka++) {
			const t = ka * p;
			let sr = 0;
			let si = 0;
			for (let a = 0; a < p; a++) {
				// (xr + i xi)(cos − i sin)
				const c = cos[t + a];
				const s = sin[t + a];
				sr += reT[col + a] * c + imT[col + a] * s;
				si += imT[col + a] * c - reT[col + a] * s;
			}
			const m = Math.sqrt(sr * sr + si * si);
			out[t + kb] = m;
			out[((p - ka) % p) * p + ((p - kb) % p)] = m;
		}
	}
	return out;
}

export interface SpectrumSummary {
	/** IPR_r of the spectrum; NaN for a constant grid (a dead neuron has no spectrum). */
	ipr: number;
	/** The frequency pair holding the most power, as (ka, kb) with its conjugate (−ka, −kb) folded in. */
	freq: [number, number];
	/** That pair's share of ‖F‖₂², the conjugate pair included. */
	powerShare: number;
}

/**
 * IPR_r, the dominant frequency pair and its power share. Of a pair and its conjugate, the one
 * reported is the first in row-major order (ka, then kb): so (3, 0) rather than (94, 0).
 */
export function summarize(F: ArrayLike<number>, p: number, r = 2): SpectrumSummary {
	let power = 0;
	for (let k = 0; k < F.length; k++) power += F[k] * F[k];
	if (!(power > 0)) return { ipr: NaN, freq: [0, 0], powerShare: NaN };
	let ipr = 0;
	let best = -1;
	let bestPower = -Infinity;
	for (let k = 0; k < F.length; k++) {
		const share = (F[k] * F[k]) / power;
		ipr += share ** r;
		const [ka, kb] = [Math.floor(k / p), k % p];
		const conj = ((p - ka) % p) * p + ((p - kb) % p);
		if (conj < k) continue; // counted with its conjugate, which comes first
		const pair = k === conj ? F[k] * F[k] : F[k] * F[k] + F[conj] * F[conj];
		if (pair > bestPower) [best, bestPower] = [k, pair];
	}
	return { ipr, freq: [Math.floor(best / p), best % p], powerShare: bestPower / power };
}

/**
 * A threshold between low- and high-IPR neurons: Otsu's split of log10 IPR (the cut maximising the
 * between-group variance), placed halfway between the two neighbouring values it separates. NaN
 * entries (dead neurons) are ignored; fewer than two finite values give NaN.
 */
export function otsuThreshold(iprs: ArrayLike<number>): number {
	const logs = Array.from(iprs).filter((x) => x > 0 && Number.isFinite(x)).map(Math.log10).sort((a, b) => a - b);
	const n = logs.length;
	if (n < 2) return NaN;
	const total = logs.reduce((a, b) => a + b, 0);
	let [bestCut, bestScore, below] = [1, -Infinity, 0];
	for (let i = 1; i < n; i++) {
		below += logs[i - 1];
		if (logs[i] === logs[i - 1]) continue; // a cut between equal values separates nothing
		const [m0, m1] = [below / i, (total - below) / (n - i)];
		const score = i * (n - i) * (m0 - m1) ** 2;
		if (score > bestScore) [bestCut, bestScore] = [i, score];
	}
	return 10 ** ((logs[bestCut - 1] + logs[bestCut]) / 2);
}
