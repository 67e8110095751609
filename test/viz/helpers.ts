// Helpers of the viz tests: seeded rounded data and a line-per-element SVG serialisation for
// readable snapshot diffs (the snapshot files are valid standalone SVG and open in a browser).
import * as d3 from 'd3';
import { ranks, type RankOrder } from '../../src/lib/core/export/rank';

/** Seeded uniform numbers in [lo, hi) rounded to `digits` decimals, so snapshots are stable. */
export function seeded(seed: number, lo = -1, hi = 1, digits = 3): () => number {
	const u = d3.randomUniform.source(d3.randomLcg(seed))(lo, hi);
	return () => Number(u().toFixed(digits));
}

export function prettySvg(svg: Element): string {
	return svg.outerHTML.replace(/><(?!\/)/g, '>\n<').replace(/><\/(g|svg)>/g, '>\n</$1>') + '\n';
}

export function fresh(): HTMLDivElement {
	document.body.replaceChildren();
	return document.body.appendChild(document.createElement('div'));
}

export function key(el: Element, k: 'Enter' | ' ' | 'ArrowRight' | 'ArrowLeft' | 'ArrowUp' | 'ArrowDown' | 'Home' | 'End', init: KeyboardEventInit = {}): void {
	el.dispatchEvent(new KeyboardEvent('keydown', { key: k, bubbles: true, cancelable: true, ...init }));
}

/** A head map's ranks as the dashboard passes them: core's ranking of the scores (NaN/null last). */
export function headRanks(heads: readonly (readonly (number | null)[])[], order: RankOrder = 'descending'): { layer: number; head: number; rank: number }[] {
	const cells = heads.flatMap((row, layer) => row.map((score, head) => ({ layer, head, score: score ?? Number.NaN })));
	const r = ranks(cells.map((c) => c.score), order);
	return cells.map(({ layer, head }, i) => ({ layer, head, rank: r[i] }));
}
