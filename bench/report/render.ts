/** `bun bench/report/render.ts NAME`: writes bench/results/NAME.md again from NAME.json (after a change to the report). */
import { readFileSync, writeFileSync } from 'node:fs';
import { ROOT } from '../contenders.js';
import type { BenchResults } from './results.js';
import { renderMarkdown } from './summary.js';

const name = process.argv[2];
if (!name || !/^[\w.-]+$/.test(name)) throw new Error('usage: bun bench/report/render.ts NAME (bench/results/NAME.json)');
const results = JSON.parse(readFileSync(`${ROOT}bench/results/${name}.json`, 'utf8')) as BenchResults;
writeFileSync(`${ROOT}bench/results/${name}.md`, renderMarkdown(results));
process.stdout.write(`bench/results/${name}.md\n`);
