/**
 * `bun bench/client-flood.ts [--runs N] [--seconds S] [--rate R] [--sockets N]`: what one client
 * flooding `herald.ping` frames costs everyone else. One pod per engine and limit; 200 latency
 * sockets receive one event each at a fixed rate over HTTP (send timestamp in the payload);
 * the flooder writes frames as fast as TCP takes them and, each time the pod closes it, opens
 * a new socket and floods again. Quiet (no flooder) vs flooding under the default
 * HERALD_MAX_CLIENT_FRAMES_PER_S (20) vs flooding with the limit out of reach. Medians of the
 * runs; issue 12's budget: the others' p99 within 2× the quiet figure. bench/RESULTS.md quotes it.
 */
import { parseArgs } from 'node:util';
import { BUN, heraldEnv, JWT_SECRET, PUBLISH_TOKEN, ROOT, startHeraldPod, type HeraldRuntime } from './contenders.js';
import { ClientFleet } from './load/fleet.js';
import type { FloodStats } from './load/flood-worker.js';
import type { PublishProgress } from './load/publisher-protocol.js';
import { sleep } from './lib/measure.js';
import { sampleProcess } from './lib/proc-stats.js';
import { WorkerProcess } from './lib/worker-process.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '5' },
    rate: { type: 'string', default: '1000' },
    sockets: { type: 'string', default: '200' },
    engines: { type: 'string', default: 'bun,node' },
  },
});
const RUNS = Number(values.runs);
const MEASURE_MS = Number(values.seconds) * 1000;
const WARMUP_MS = 1000;
const RATE = Number(values.rate);
const SOCKETS = Number(values.sockets);
const ENGINES = values.engines!.split(',') as HeraldRuntime[];
/** Far above what one socket can send: the limit never closes it. */
const NO_LIMIT = '1000000000';

type Mode = 'quiet' | 'flood, limit 20/s' | 'flood, no limit';

interface Sample {
  engine: HeraldRuntime;
  mode: Mode;
  p50: number;
  p99: number;
  p999: number;
  received: number;
  published: number;
  podCpuCores: number;
  flood: FloodStats | undefined;
}

function say(line: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
}

async function measure(engine: HeraldRuntime, mode: Mode): Promise<Sample> {
  const extra: Record<string, string> = mode === 'flood, no limit' ? { HERALD_MAX_CLIENT_FRAMES_PER_S: NO_LIMIT } : {};
  const pod = await startHeraldPod(engine, heraldEnv({ extra }), `flood-${engine}`);
  const fleet = ClientFleet.start(1);
  const publisher = WorkerProcess.start('publisher', BUN, [`${ROOT}bench/load/publisher-worker.ts`]);
  const flooder = mode === 'quiet' ? undefined : WorkerProcess.start('flooder', BUN, [`${ROOT}bench/load/flood-worker.ts`]);
  try {
    const opened = await fleet.connect({
      protocol: 'herald',
      jwtSecret: JWT_SECRET,
      latency: true,
      targets: [{ port: pod.port, from: 0, to: SOCKETS }],
    });
    if (opened.failed > 0) throw new Error(`${opened.failed} sockets failed: ${opened.errors.join('; ')}`);
    await publisher.request({ cmd: 'reset' });
    await flooder?.request({ cmd: 'flood', port: pod.port, jwtSecret: JWT_SECRET, userId: 'flooder' });
    const before = (await fleet.stats()).events;
    const done = publisher.request<PublishProgress>(
      {
        cmd: 'rate',
        transport: { kind: 'http', url: `http://127.0.0.1:${pod.port}/v1/events`, token: PUBLISH_TOKEN },
        from: 0,
        to: SOCKETS,
        eventsPerSecond: RATE,
        durationMs: WARMUP_MS + MEASURE_MS,
      },
      MEASURE_MS + 60_000,
    );
    await sleep(WARMUP_MS);
    await fleet.latency();
    const cpuBefore = sampleProcess(pod.pid)!.cpuS;
    const startedAt = performance.now();
    const published = await done;
    const cpuS = sampleProcess(pod.pid)!.cpuS - cpuBefore;
    const elapsedS = (performance.now() - startedAt) / 1000;
    const flood = (await flooder?.request<FloodStats>({ cmd: 'stop' })) ?? undefined;
    const deadline = Date.now() + 5_000;
    while ((await fleet.stats()).events - before < published.events && Date.now() < deadline) await sleep(20);
    const histogram = await fleet.latency();
    const received = (await fleet.stats()).events - before;
    const sample: Sample = {
      engine,
      mode,
      p50: histogram.getValueAtPercentile(50),
      p99: histogram.getValueAtPercentile(99),
      p999: histogram.getValueAtPercentile(99.9),
      received,
      published: published.events,
      podCpuCores: cpuS / elapsedS,
      flood,
    };
    say(
      `${engine} ${mode}: p50 ${sample.p50} µs, p99 ${sample.p99} µs, p99.9 ${sample.p999} µs; ` +
        `received ${received}/${published.events}; pod ${sample.podCpuCores.toFixed(2)} cores` +
        (flood ? `; flooder ${flood.sockets} sockets, ${flood.framesWritten} frames written, closes ${JSON.stringify(flood.closes)}` : ''),
    );
    return sample;
  } finally {
    await publisher.request({ cmd: 'close' }, 5_000).catch(() => undefined);
    await Promise.all([fleet.stop(), publisher.stop(), flooder?.stop()]);
    await pod.stop();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const modes: Mode[] = ['quiet', 'flood, limit 20/s', 'flood, no limit'];
const samples: Sample[] = [];
for (let run = 0; run < RUNS; run++) {
  for (const engine of ENGINES) {
    for (const mode of run % 2 === 0 ? modes : [...modes].reverse()) samples.push(await measure(engine, mode));
  }
}

const lines = [
  `${SOCKETS} sockets, ${RATE} events/s (one user each) over HTTP, ${MEASURE_MS / 1000} s measured after ${WARMUP_MS / 1000} s, median of ${RUNS} runs; µs.`,
  '',
  '| engine | mode | p50 | p99 | p99.9 | p99 / quiet p99 | pod CPU (cores) | flooder sockets (closed 1008) | frames written |',
  '|---|---|---:|---:|---:|---:|---:|---:|---:|',
];
for (const engine of ENGINES) {
  const quiet = median(samples.filter((s) => s.engine === engine && s.mode === 'quiet').map((s) => s.p99));
  for (const mode of modes) {
    const cell = samples.filter((s) => s.engine === engine && s.mode === mode);
    const p99 = median(cell.map((s) => s.p99));
    const floods = cell.map((s) => s.flood).filter((f): f is FloodStats => f !== undefined);
    lines.push(
      `| ${engine} | ${mode} | ${median(cell.map((s) => s.p50))} | ${p99} | ${median(cell.map((s) => s.p999))} | ` +
        `${(p99 / quiet).toFixed(2)} | ${median(cell.map((s) => s.podCpuCores)).toFixed(2)} | ` +
        `${floods.length ? `${median(floods.map((f) => f.sockets))} (${median(floods.map((f) => f.closes['1008'] ?? 0))})` : '—'} | ` +
        `${floods.length ? median(floods.map((f) => f.framesWritten)) : '—'} |`,
    );
  }
}
process.stdout.write(lines.join('\n') + '\n');
