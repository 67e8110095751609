// @vitest-environment jsdom
import { describe, expect, it } from 'vitest';
import { headMap } from '../../src/lib/viz/headMap';
import { svgToPngBlob, svgToString } from '../../src/lib/viz/exportFigure';
import { subtaskDiagram } from '../../src/lib/viz/subtaskDiagram';
import { fresh } from './helpers';
import fixture from './fixtures/column_subtasks.json';

const heads = [
	[0.5, -0.25, 0.125],
	[-0.5, 1, 0.75]
];

function parse(text: string): Document {
	const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
	expect(doc.querySelector('parsererror')).toBeNull();
	return doc;
}

describe('svgToString', () => {
	it('writes a standalone SVG: xmlns, explicit size, no page-dependent colours, no screen-only parts', () => {
		document.body.setAttribute('style', 'color: rgb(10, 20, 30); background-color: rgb(250, 250, 240); --viz-accent: rgb(200, 0, 100)');
		const div = fresh();
		const { svg } = headMap(div, { heads }, { topK: 2, selected: { layer: 1, head: 0 }, title: 'export me' });
		(svg.querySelector('[data-testid="head-cell"]') as SVGElement).focus(); // tooltip visible on screen
		const text = svgToString(svg);
		expect(text.startsWith('<?xml')).toBe(true);
		const out = parse(text).documentElement;
		expect(out.namespaceURI).toBe('http://www.w3.org/2000/svg');
		expect(text).toContain('xmlns="http://www.w3.org/2000/svg"');
		expect(out.getAttribute('width')).toBe(svg.getAttribute('width'));
		expect(out.getAttribute('height')).toBe(svg.getAttribute('height'));
		expect(text).not.toMatch(/currentColor/i);
		expect(text).not.toContain('var(');
		expect(text).not.toContain('tabindex');
		expect(out.querySelectorAll('[data-screen-only]')).toHaveLength(0);
		// text colour resolved from the page, accent from the custom property, page background behind
		const title = Array.from(out.querySelectorAll('text')).find((t) => t.textContent === 'export me')!;
		expect(title.getAttribute('style')).toContain('fill: rgb(10, 20, 30)');
		expect(out.querySelector('[data-testid="selected-outline"]')!.getAttribute('style')).toContain('stroke: rgb(200, 0, 100)');
		expect(out.firstElementChild!.getAttribute('fill')).toBe('rgb(250, 250, 240)');
		// data colours survive, and CSS font sizes carry units
		const cell = out.querySelector('[data-testid="head-cell"][data-layer="1"][data-head="1"]')!;
		expect(cell.getAttribute('style')).toContain('fill: rgb(5, 48, 97)');
		expect(out.getAttribute('style')).toContain('font-size: 11px');
		// the live figure is untouched
		expect(svg.querySelector('[data-screen-only]')).not.toBeNull();
		document.body.removeAttribute('style');
	});

	it('exports the subtask diagram with its class colours and no background when asked', () => {
		const { svg } = subtaskDiagram(fresh(), fixture.cases['99x99'] as never);
		const out = parse(svgToString(svg, { background: 'none' })).documentElement;
		expect(out.firstElementChild!.localName).not.toBe('rect');
		const classes = Array.from(out.querySelectorAll('[data-testid="subtask-digit"]')).map((g) => g.getAttribute('data-class'));
		expect(classes).toEqual(['CM', 'US10', 'UC', 'Carry']);
		expect(out.querySelector('[data-testid="subtask-digit"][data-class="US10"] rect')!.getAttribute('style')).toContain('fill: #F0E442');
	});
});

describe('svgToPngBlob', () => {
	it('refuses clearly outside a browser (no OffscreenCanvas in jsdom)', async () => {
		const { svg } = headMap(fresh(), { heads });
		await expect(svgToPngBlob(svg)).rejects.toThrow(/needs a browser/);
	});
});
