// Colour-blind-safe palettes shared by the figures (Okabe & Ito 2008; ColorBrewer scales via d3).

/** Okabe-Ito categorical colours minus black (the page's text colour takes that role); ordered so
 * the first few are distinguishable under all common colour-vision deficiencies and on dark pages. */
const OKABE_ITO = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442'] as const;

/** Multiplication subtask classes of DESIGN §8, in the order of models/train/tasks.py SUBTASKS. */
export const SUBTASKS = ['BM', 'CM', 'Carry', 'UC', 'US10'] as const;
export type Subtask = (typeof SUBTASKS)[number];

/** One Okabe-Ito colour per subtask; all light enough for dark (#111) text on top of them. */
export const SUBTASK_COLORS: Record<Subtask, string> = {
	BM: '#56B4E9',
	CM: '#E69F00',
	Carry: '#CC79A7',
	UC: '#009E73',
	US10: '#F0E442'
};

export const SUBTASK_NAMES: Record<Subtask, string> = {
	BM: 'base multiply (c = 0, s < 10)',
	CM: 'carry-producing multiply (c = 0, s ≥ 10)',
	Carry: 'carry only (c > 0, s = 0)',
	UC: 'use carry (c > 0, s mod 10 + c mod 10 < 10)',
	US10: 'cascading carry (c > 0, s mod 10 + c mod 10 ≥ 10)'
};

export function isSubtask(name: string): name is Subtask {
	return (SUBTASKS as readonly string[]).includes(name);
}

/** Colour of the i-th of several series: subtask series keep their subtask colour everywhere. */
export function seriesColor(name: string, index: number): string {
	return isSubtask(name) ? SUBTASK_COLORS[name] : OKABE_ITO[index % OKABE_ITO.length];
}

/** Past the palette's length, lines also differ by dash pattern so none are told apart by hue only. */
export function seriesDash(index: number): string | null {
	const dashes = [null, '6 3', '2 2', '8 3 2 3'];
	return dashes[Math.floor(index / OKABE_ITO.length) % dashes.length];
}
