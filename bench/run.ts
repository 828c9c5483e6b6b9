/**
 * `npm run bench`: every scenario at a size that ends in a few minutes on a 2-core machine;
 * a table per scenario on stdout (markdown), and under bench/results/: latest.json,
 * latest.md, chart.html (and chart.png when Chromium is installed). bench/RESULTS.md explains.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { BUN, NODE, PEER_BUILD, ROOT } from './contenders.js';
import { parseOptions, type BenchOptions } from './lib/options.js';
import { chartHeight, renderChart } from './report/chart.js';
import type { BenchResults } from './report/results.js';
import { renderMarkdown } from './report/summary.js';
import { runCapacity } from './scenarios/capacity.js';
import { runChurn } from './scenarios/churn.js';
import { runCluster } from './scenarios/cluster.js';
import { say } from './scenarios/common.js';
import { runFanout } from './scenarios/fanout.js';
import { runLatency } from './scenarios/latency.js';
import { runRecoveryMemory } from './scenarios/recovery-memory.js';
import { runResumeStorm } from './scenarios/resume-storm.js';
import { runBackpressure } from './scenarios/tuning.js';

const RESULTS_DIR = `${ROOT}bench/results`;

function build(): void {
  // The Node contenders run compiled JavaScript: Herald's own build, and the bench's peers bundled by Bun.
  const scripts = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')).scripts ?? {};
  if (scripts['build:node']) {
    const result = spawnSync('npm', ['run', '--silent', 'build:node'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
    if (result.status !== 0) say('npm run build:node failed: Herald on Node will be reported as failed');
  } else say('no build:node script: Herald on Node will be reported as failed');
  execFileSync(
    BUN,
    ['build', 'bench/peers/ws-node.ts', 'bench/peers/socketio-node.ts', 'bench/peers/gc-hook.ts', '--target=node', '--packages=external', `--outdir=${PEER_BUILD}`],
    { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] },
  );
}

/** Read once: meta() is called again after each scenario, and the load then is not the load at start. */
const loadAtStart = loadavg().map((l) => l.toFixed(2)).join(' ');

function meta(options: BenchOptions, startedAt: Date): BenchResults['meta'] {
  const limits = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files')) ?? '';
  const git = (args: string[]) => spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' }).stdout.trim();
  return {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    durationS: (Date.now() - startedAt.getTime()) / 1000,
    machine: {
      cpu: cpus()[0]?.model.trim() ?? 'unknown',
      cores: cpus().length,
      memoryGiB: totalmem() / 2 ** 30,
      kernel: release(),
      openFileLimit: limits.split(/\s{2,}/).slice(1, 3).join('/'),
    },
    versions: {
      bun: execFileSync(BUN, ['--version'], { encoding: 'utf8' }).trim(),
      node: execFileSync(NODE, ['--version'], { encoding: 'utf8' }).trim(),
      herald: JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')).version,
      commit: git(['rev-parse', '--short', 'HEAD']),
    },
    loadAverageAtStart: loadAtStart,
    options,
  };
}

function chromium(): string | undefined {
  return [process.env.CHROMIUM_BIN, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => p && existsSync(p));
}

function save(results: BenchResults, final: boolean): void {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const stamp = results.meta.startedAt.replace(/[:.]/g, '-').slice(0, 19);
  writeFileSync(`${RESULTS_DIR}/${stamp}.json`, JSON.stringify(results, null, 1) + '\n');
  if (!final) return;
  const out = results.meta.options.out;
  writeFileSync(`${RESULTS_DIR}/${out}.json`, JSON.stringify(results, null, 1) + '\n');
  writeFileSync(`${RESULTS_DIR}/${out}.md`, renderMarkdown(results));
  if (out !== 'latest') return;
  const chart = renderChart(results);
  writeFileSync(`${RESULTS_DIR}/chart.html`, chart);
  const browser = chromium();
  if (browser) {
    const shot = spawnSync(
      browser,
      ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', `--screenshot=${RESULTS_DIR}/chart.png`, `--window-size=1300,${chartHeight(chart)}`, `file://${RESULTS_DIR}/chart.html`],
      { stdio: 'ignore', timeout: 60_000 },
    );
    if (shot.status !== 0) say('Chromium could not render chart.png; chart.html is there');
  }
}

const options = parseOptions(process.argv.slice(2));
const startedAt = new Date();
build();
const results: BenchResults = { meta: meta(options, startedAt), errors: [] };
const steps: [string, () => Promise<void>][] = [
  ['fanout', async () => void (results.fanout = await runFanout(options))],
  ['cluster', async () => void (results.cluster = await runCluster(options))],
  ['latency', async () => void (results.latency = await runLatency(options))],
  ['capacity', async () => void (results.capacity = await runCapacity(options))],
  ['churn', async () => void (results.churn = await runChurn(options))],
  ['backpressure', async () => void (results.backpressure = await runBackpressure(options))],
  ['resume-storm', async () => void (results.resumeStorm = await runResumeStorm(options))],
  ['recovery-memory', async () => void (results.recoveryMemory = await runRecoveryMemory(options))],
];
for (const [name, step] of steps) {
  if (!options.scenarios.includes(name as BenchOptions['scenarios'][number])) continue;
  say(`— scenario ${name}`);
  try {
    await step();
  } catch (error) {
    // One scenario's failure is reported and the others still run.
    say(`scenario ${name} FAILED: ${error instanceof Error ? error.stack : String(error)}`);
    results.errors.push(`${name}: ${error instanceof Error ? error.message : String(error)}`);
  }
  results.meta = meta(options, startedAt);
  if (options.save) save(results, false);
}
results.meta = meta(options, startedAt);
if (options.save) save(results, true);
process.stdout.write(renderMarkdown(results));
say(`done in ${results.meta.durationS.toFixed(0)} s${options.save ? `; wrote bench/results/${options.out}.{json,md}${options.out === 'latest' ? ', chart.html' : ''}` : ''}`);
process.exit(0);
