/**
 * `npm run bench`: every scenario at a size that ends in a few minutes on a 2-core machine;
 * a table per scenario on stdout, JSON under bench/results/. See bench/RESULTS.md.
 */
import { parseOptions } from './lib/options.js';
import { runFanout } from './scenarios/fanout.js';

const options = parseOptions(process.argv.slice(2));
const fanout = options.scenarios.includes('fanout') ? await runFanout(options) : undefined;
console.log(JSON.stringify(fanout, null, 1));
