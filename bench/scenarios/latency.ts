import type { Histogram } from 'hdr-histogram-js';
import * as hdr from 'hdr-histogram-js';
import { BUN, heraldEnv, JWT_SECRET, ROOT, startHeraldPod } from '../contenders.js';
import type { LatencyReport } from '../load/client-protocol.js';
import { ClientFleet } from '../load/fleet.js';
import type { PublishProgress, PublishTransport } from '../load/publisher-protocol.js';
import { sleep } from '../lib/measure.js';
import { startNats } from '../lib/nats-server.js';
import type { BenchOptions } from '../lib/options.js';
import { WorkerProcess } from '../lib/worker-process.js';
import { say } from './common.js';

export interface LatencyRow {
  system: 'herald' | 'raw-nats';
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
}

export interface LatencyResult {
  sockets: number;
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
  const published = await done;
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
  };
  say(
    `${system} ${rate}/s: p50 ${row.p50} µs, p99 ${row.p99} µs, p99.9 ${row.p999} µs, max ${row.max} µs; ` +
      `received ${received}/${published.events}, publisher lag ≤ ${published.maxLagMs.toFixed(1)} ms` +
      (published.errors ? `, ${published.errors} publish errors (${published.lastError})` : ''),
  );
  return row;
}

/**
 * Scenario 3: fixed-rate publishing through Herald's publisher client to two pods over NATS,
 * one event to one user each, timestamps in the payload; then bare NATS publish → subscribe
 * at the same rates on the same private nats-server.
 */
export async function runLatency(options: BenchOptions): Promise<LatencyResult> {
  const nats = await startNats();
  const subject = `bench.latency.${Math.random().toString(36).slice(2, 8)}`;
  const users = options.latencySockets;
  const rows: LatencyRow[] = [];
  const errors: string[] = [];
  try {
    const env = heraldEnv({ bus: 'nats', brokers: { nats: nats.url }, extra: { HERALD_NATS_SUBJECT: subject } });
    const pods = await Promise.all([startHeraldPod('bun', env, 'latency-a'), startHeraldPod('bun', env, 'latency-b')]);
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
      const transport: PublishTransport = { kind: 'herald-nats', servers: [nats.url], subject };
      for (const rate of options.latencyRates) {
        rows.push(await measureRate('herald', 'Herald ×2 + NATS → WebSocket', receiver, publisher, transport, users, rate, options));
      }
    } catch (error) {
      errors.push(`herald: ${(error as Error).message}`);
      say(`latency herald FAILED ${(error as Error).message}`);
    } finally {
      await publisher.request({ cmd: 'close' }, 5_000).catch(() => undefined);
      await Promise.all([fleet.stop(), publisher.stop(), ...pods.map((p) => p.stop())]);
    }

    const subscriber = WorkerProcess.start('nats-subscriber', BUN, [`${ROOT}bench/load/nats-subscriber-worker.ts`]);
    const rawPublisher = WorkerProcess.start('raw-publisher', BUN, [`${ROOT}bench/load/publisher-worker.ts`]);
    try {
      const rawSubject = `${subject}.raw`;
      await subscriber.request({ cmd: 'subscribe', servers: [nats.url], subject: rawSubject });
      const receiver: Receiver = {
        events: async () => (await subscriber.request<{ events: number }>({ cmd: 'stats' })).events,
        latency: async () =>
          hdr.decodeFromCompressedBase64((await subscriber.request<LatencyReport>({ cmd: 'latency' })).histogram),
      };
      const transport: PublishTransport = { kind: 'raw-nats', servers: [nats.url], subject: rawSubject };
      for (const rate of options.latencyRates) {
        rows.push(await measureRate('raw-nats', 'bare NATS publish → subscribe', receiver, rawPublisher, transport, users, rate, options));
      }
    } catch (error) {
      errors.push(`raw-nats: ${(error as Error).message}`);
      say(`latency raw NATS FAILED ${(error as Error).message}`);
    } finally {
      await rawPublisher.request({ cmd: 'close' }, 5_000).catch(() => undefined);
      await subscriber.request({ cmd: 'close' }, 5_000).catch(() => undefined);
      await Promise.all([subscriber.stop(), rawPublisher.stop()]);
    }
  } finally {
    await nats.stop();
  }
  return { sockets: users, rows, errors, natsWarnings: nats.warnings };
}
