// The page's colour scheme (prefers-color-scheme), and colour ramps for figures that read well on it:
// on a dark page a weight of 0 is the page colour and strong weights are bright, instead of a white
// square for every near-zero cell.
import * as d3 from 'd3';

class Theme {
	dark = $state(false);

	constructor() {
		if (typeof matchMedia !== 'function') return;
		const query = matchMedia('(prefers-color-scheme: dark)');
		this.dark = query.matches;
		query.addEventListener('change', (e) => (this.dark = e.matches));
	}

	/** Sequential 0..1 ramp (attention weights). */
	get sequential(): (t: number) => string {
		return this.dark ? d3.interpolateLab('#1f2329', '#86c0ff') : d3.interpolateBlues;
	}

	/** Diverging ramp centred at 0.5 (head scores): red negative, blue positive. */
	get diverging(): (t: number) => string {
		if (!this.dark) return d3.interpolateRdBu;
		const neg = d3.interpolateLab('#ff9a7a', '#2a2f36');
		const pos = d3.interpolateLab('#2a2f36', '#6cb4f5');
		return (t) => (t < 0.5 ? neg(t * 2) : pos((t - 0.5) * 2));
	}
}

export const theme = new Theme();
