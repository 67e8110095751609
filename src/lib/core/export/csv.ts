// CSV writing that spreadsheets cannot turn into formulas (CSV injection): string cells starting
// with = + - @ tab or CR get a leading single quote. Numbers are written as numbers and never escaped,
// because a plain negative score like -0.25 must stay a number when the table is opened, and a
// number's text (digits, '-', '.', 'e') can never form a formula.

export type CsvCell = string | number | boolean | null | undefined;

const FORMULA_START = /^[=+\-@\t\r]/;
const NEEDS_QUOTES = /[",\n\r]/;

export function csvCell(cell: CsvCell): string {
	if (cell === null || cell === undefined) return '';
	if (typeof cell === 'number') return String(cell); // NaN / Infinity stay visible as text
	let text = String(cell);
	if (FORMULA_START.test(text)) text = `'${text}`;
	return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** Header plus rows, one line each, '\n'-terminated. Every row must have the header's length. */
export function toCsv(header: readonly string[], rows: readonly (readonly CsvCell[])[]): string {
	rows.forEach((row, i) => {
		if (row.length !== header.length) throw new RangeError(`toCsv: row ${i} has ${row.length} cells, header has ${header.length}`);
	});
	return [header, ...rows].map((row) => row.map(csvCell).join(',') + '\n').join('');
}
