/**
 * Re-renders the Markdown summary and the chart from a results file, without
 * measuring again: `node --import tsx bench/render.ts bench/results/<date>.json`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { chartOf, renderMarkdown, type BenchReport } from './report.js';

const file = process.argv[2];
if (!file) throw new Error('usage: bench/render.ts bench/results/<date>.json');
const report = JSON.parse(readFileSync(file, 'utf8')) as BenchReport;
writeFileSync(file.replace(/\.json$/, '.md'), renderMarkdown(report));
const chart = chartOf(report);
if (chart) writeFileSync(join(dirname(file), 'throughput.svg'), chart);
process.stdout.write(`rendered ${file.replace(/\.json$/, '.md')}${chart ? ' and throughput.svg' : ''}\n`);
