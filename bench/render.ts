/**
 * Re-renders the Markdown summary and the charts from a results file, without
 * measuring again: `node --import tsx bench/render.ts bench/results/<date>.json`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { renderMarkdown, writeCharts, type BenchReport } from './report.js';

const file = process.argv[2];
if (!file) throw new Error('usage: bench/render.ts bench/results/<date>.json');
const report = JSON.parse(readFileSync(file, 'utf8')) as BenchReport;
writeFileSync(file.replace(/\.json$/, '.md'), renderMarkdown(report));
const charts = writeCharts(report, dirname(file));
process.stdout.write(`rendered ${file.replace(/\.json$/, '.md')}${charts.map((c) => ` and ${c}`).join('')}\n`);
