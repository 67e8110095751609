import { describe, expect, it } from 'vitest';
import { csvCell, toCsv } from '../../src/lib/core/export/csv';

describe('CSV cells', () => {
	it('neutralises formula starters in string cells', () => {
		expect(csvCell('=HYPERLINK("http://x","y")')).toBe(`"'=HYPERLINK(""http://x"",""y"")"`);
		expect(csvCell('+1')).toBe("'+1");
		expect(csvCell('-2+3')).toBe("'-2+3");
		expect(csvCell('@SUM(A1)')).toBe("'@SUM(A1)");
		expect(csvCell('\tx')).toBe("'\tx");
		expect(csvCell('\rx')).toBe(`"'\rx"`);
		expect(csvCell('a,b')).toBe('"a,b"');
		expect(csvCell('line\nbreak')).toBe('"line\nbreak"');
		expect(csvCell('plain')).toBe('plain');
	});

	it('keeps numbers numeric, negative ones included', () => {
		expect(csvCell(-0.25)).toBe('-0.25');
		expect(csvCell(-1e-7)).toBe('-1e-7');
		expect(csvCell(3)).toBe('3');
		expect(csvCell(Number.NaN)).toBe('NaN');
		expect(csvCell(undefined)).toBe('');
		expect(csvCell(null)).toBe('');
		expect(csvCell(true)).toBe('true');
	});

	it('writes rows under a header and checks their width', () => {
		expect(toCsv(['a', 'b'], [[1, '=x'], [-2, undefined]])).toBe("a,b\n1,'=x\n-2,\n");
		expect(() => toCsv(['a', 'b'], [[1]])).toThrow(/row 0 has 1 cells, header has 2/);
	});
});
