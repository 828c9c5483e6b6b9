import type { Histogram } from 'hdr-histogram-js';
import * as hdr from 'hdr-histogram-js';
import { BUN, heraldEnv, JWT_SECRET, ROOT, startHeraldPod } from '../contenders.js';
import type { LatencyReport } from '../load/client-protocol.js';
import { ClientFleet } from '../load/fleet.js';
import type { PublishProgress, PublishTransport } from '../load/publisher-protocol.js';
import { sleep } from '../lib/measure.js';
import { machineCpuTicks, sampleProcesses } from '../lib/proc-stats.js';
import { startNats } from '../lib/nats-server.js';
import type { BenchOptions } from '../lib/options.js';
import { WorkerProcess } from '../lib/worker-process.js';
import { say } from './common.js';

export interface LatencyRow {
  /** `herald`: recovery off (HERALD_RECOVERY_WINDOW_S=0); `herald-recovery`: on (300 s, the event log in JetStream). */
  system: 'herald' | 'herald-recovery' | 'raw-nats';
  label: string;
  eventsPerSecond: number;
  /** Microseconds, emit (publisher call) → frame read by the client (or message read by the NATS subscriber). */
  p50: number;
  p99: number;
  p999: number;
  max: number;
  /** Samples in the measured part. */
  count: number;
  /** Everything published at this rate (warm-up included) and everything received. */
  published: number;
  received: number;
  /** How far the publisher fell behind its schedule at worst, ms: large means the rate was not held. */
  publisherMaxLagMs: number;
  /** Publishes refused (these events were never sent). */
  publishErrors: number;
  /** Which run (the order of the systems alternates between runs). */
  run?: number;
  /** CPU over the measured part, cores: the path's processes by role, and the whole machine (2 = saturated). */
  cores?: Record<string, number>;
}

export interface LatencyResult {
  sockets: number;
  /** Runs of every system (rows carry `run`; the report takes medians). */
  runs?: number;
  rows: LatencyRow[];
  errors: string[];
  /** What nats-server warned about during the runs (slow consumers drop messages). */
  natsWarnings: string[];
}

function summarize(histogram: Histogram) {
  return {
    p50: histogram.getValueAtPercentile(50),
    p99: histogram.getValueAtPercentile(99),
    p999: histogram.getValueAtPercentile(99.9),
    max: histogram.maxValue,
    count: histogram.totalCount,
  };
}

interface Receiver {
  events(): Promise<number>;
  latency(): Promise<Histogram>;
}

async function measureRate(
  system: LatencyRow['system'],
  label: string,
  receiver: Receiver,
  publisher: WorkerProcess,
  transport: PublishTransport,
  users: number,
  rate: number,
  options: BenchOptions,
  pids: Record<string, number[]>,
): Promise<LatencyRow> {
  await publisher.request({ cmd: 'reset' });
  const before = await receiver.events();
  const warmupMs = Math.min(options.warmupMs, 1_000);
  const done = publisher.request<PublishProgress>(
    { cmd: 'rate', transport, from: 0, to: users, eventsPerSecond: rate, durationMs: warmupMs + options.latencyMs },
    options.latencyMs + 60_000,
  );
  await sleep(warmupMs);
  await receiver.latency();
  // CPU of every process in the path over the measured part: on a shared 2-core machine a path
  // that needs more than it gets falls behind, and its latency becomes queueing.
  const cpu0 = Object.fromEntries(Object.entries(pids).map(([k, v]) => [k, sampleProcesses(v).cpuS]));
  const machine0 = machineCpuTicks();
  const t0 = performance.now();
  const published = await done;
  const seconds = (performance.now() - t0) / 1000;
  const machine1 = machineCpuTicks();
  const cores = Object.fromEntries(Object.entries(pids).map(([k, v]) => [k, (sampleProcesses(v).cpuS - cpu0[k]!) / seconds]));
  cores.machine = ((machine1.busy - machine0.busy) / (machine1.total - machine0.total)) * 2;
  // Stragglers: everything sent must arrive before the histogram is read.
  const deadline = Date.now() + 5_000;
  while ((await receiver.events()) - before < published.events && Date.now() < deadline) await sleep(20);
  const summary = summarize(await receiver.latency());
  const received = (await receiver.events()) - before;
  const row: LatencyRow = {
    system,
    label,
    eventsPerSecond: rate,
    ...summary,
    published: published.events,
    received,
    publisherMaxLagMs: published.maxLagMs,
    publishErrors: published.errors,
    cores,
  };
  say(
    `${system} ${rate}/s: p50 ${row.p50} µs, p99 ${row.p99} µs, p99.9 ${row.p999} µs, max ${row.max} µs; ` +
      `received ${received}/${published.events}, publisher lag ≤ ${published.maxLagMs.toFixed(1)} ms; cores ` +
      Object.entries(cores).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ') +
      (published.errors ? `, ${published.errors} publish errors (${published.lastError})` : ''),
  );
  return row;
}

type LatencySystem = LatencyRow['system'];

const SYSTEMS: { system: LatencySystem; label: string }[] = [
  { system: 'herald', label: 'Herald ×2 + NATS → WebSocket, recovery off' },
  { system: 'herald-recovery', label: 'Herald ×2 + NATS → WebSocket, recovery on' },
  { system: 'raw-nats', label: 'bare NATS publish → subscribe' },
];

/** Two Herald pods on `nats`, the clients split over them, every rate in turn. */
async function measureHerald(
  system: 'herald' | 'herald-recovery',
  label: string,
  natsUrl: string,
  natsPid: number,
  names: { subject: string; stream: string },
  options: BenchOptions,
  run: number,
): Promise<LatencyRow[]> {
  const users = options.latencySockets;
  const recovery = system === 'herald-recovery';
  // Recovery on: a stream of its own (pods read a stream from its first message); off: core NATS.
  const extra: Record<string, string> = recovery
    ? { HERALD_NATS_SUBJECT: names.subject, HERALD_NATS_STREAM: names.stream, HERALD_RECOVERY_WINDOW_S: '300' }
    : { HERALD_NATS_SUBJECT: names.subject, HERALD_RECOVERY_WINDOW_S: '0' };
  const env = heraldEnv({ bus: 'nats', brokers: { nats: natsUrl }, extra });
  const pods = await Promise.all([startHeraldPod('bun', env, `${system}-a`), startHeraldPod('bun', env, `${system}-b`)]);
  const fleet = ClientFleet.start(1);
  const publisher = WorkerProcess.start('publisher', BUN, [`${ROOT}bench/load/publisher-worker.ts`]);
  try {
    const opened = await fleet.connect({
      protocol: 'herald',
      jwtSecret: JWT_SECRET,
      latency: true,
      targets: [
        { port: pods[0]!.port, from: 0, to: Math.floor(users / 2) },
        { port: pods[1]!.port, from: Math.floor(users / 2), to: users },
      ],
    });
    if (opened.failed > 0) throw new Error(`${opened.failed} sockets failed: ${opened.errors.join('; ')}`);
    const receiver: Receiver = { events: async () => (await fleet.stats()).events, latency: () => fleet.latency() };
    const transport: PublishTransport = recovery
      ? { kind: 'herald-nats', servers: [natsUrl], subject: names.subject, stream: names.stream, recoveryWindowS: 300 }
      : { kind: 'herald-nats', servers: [natsUrl], subject: names.subject, recoveryWindowS: 0 };
    const rows: LatencyRow[] = [];
    for (const rate of options.latencyRates) {
      const pids = { pods: pods.map((p) => p.pid), 'nats-server': [natsPid], publisher: [publisher.pid], clients: fleet.pids };
      rows.push({ ...(await measureRate(system, label, receiver, publisher, transport, users, rate, options, pids)), run });
    }
    return rows;
  } finally {
    await publisher.request({ cmd: 'close' }, 5_000).catch(() => undefined);
    await Promise.all([fleet.stop(), publisher.stop(), ...pods.map((p) => p.stop())]);
  }
}

/** Bare NATS publish → subscribe, same payload and rates, on the same nats-server: the baseline. */
async function measureRawNats(label: string, natsUrl: string, natsPid: number, subject: string, options: BenchOptions, run: number): Promise<LatencyRow[]> {
  const subscriber = WorkerProcess.start('nats-subscriber', BUN, [`${ROOT}bench/load/nats-subscriber-worker.ts`]);
  const rawPublisher = WorkerProcess.start('raw-publisher', BUN, [`${ROOT}bench/load/publisher-worker.ts`]);
  try {
    await subscriber.request({ cmd: 'subscribe', servers: [natsUrl], subject });
    const receiver: Receiver = {
      events: async () => (await subscriber.request<{ events: number }>({ cmd: 'stats' })).events,
      latency: async () =>
        hdr.decodeFromCompressedBase64((await subscriber.request<LatencyReport>({ cmd: 'latency' })).histogram),
    };
    const transport: PublishTransport = { kind: 'raw-nats', servers: [natsUrl], subject };
    const rows: LatencyRow[] = [];
    for (const rate of options.latencyRates) {
      const pids = { 'nats-server': [natsPid], publisher: [rawPublisher.pid], clients: [subscriber.pid] };
      rows.push({ ...(await measureRate('raw-nats', label, receiver, rawPublisher, transport, options.latencySockets, rate, options, pids)), run });
    }
    return rows;
  } finally {
    await rawPublisher.request({ cmd: 'close' }, 5_000).catch(() => undefined);
    await subscriber.request({ cmd: 'close' }, 5_000).catch(() => undefined);
    await Promise.all([subscriber.stop(), rawPublisher.stop()]);
  }
}

/**
 * Scenario 3: fixed-rate publishing through Herald's publisher client to two pods over NATS,
 * one event to one user each, timestamps in the payload, with recovery off and on; and bare
 * NATS publish → subscribe at the same rates on the same private nats-server. Each run
 * measures the three in turn, the order reversed every other run; the report takes medians.
 */
export async function runLatency(options: BenchOptions): Promise<LatencyResult> {
  const nats = await startNats();
  const base = `bench.latency.${Math.random().toString(36).slice(2, 8)}`;
  const rows: LatencyRow[] = [];
  const errors: string[] = [];
  let starts = 0;
  try {
    for (let run = 0; run < options.runs; run++) {
      const order = run % 2 === 0 ? SYSTEMS : [...SYSTEMS].reverse();
      for (const { system, label } of order) {
        const n = ++starts;
        try {
          if (system === 'raw-nats') rows.push(...(await measureRawNats(label, nats.url, nats.pid, `${base}.raw${n}`, options, run)));
          else rows.push(...(await measureHerald(system, label, nats.url, nats.pid, { subject: `${base}.s${n}`, stream: `BENCH_LAT_${n}_${base.slice(-6)}` }, options, run)));
        } catch (error) {
          errors.push(`${system} (run ${run}): ${(error as Error).message}`);
          say(`latency ${system} FAILED ${(error as Error).message}`);
        }
      }
    }
  } finally {
    await nats.stop();
  }
  return { sockets: options.latencySockets, runs: options.runs, rows, errors, natsWarnings: nats.warnings };
}
