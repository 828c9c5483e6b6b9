import { BUN, JWT_SECRET, ROOT, type Contender, type BrokerUrls, type Running } from '../contenders.js';
import type { SocketTarget } from '../load/client-protocol.js';
import { ClientFleet } from '../load/fleet.js';
import type { PublishTransport } from '../load/publisher-protocol.js';
import { buildBodies, type Targeting } from '../lib/event-stream.js';
import { measureFlat, type FlatResult } from '../lib/measure.js';
import type { BenchOptions } from '../lib/options.js';
import { WorkerProcess } from '../lib/worker-process.js';

export interface FlatRow extends FlatResult {
  contender: string;
  label: string;
  sockets: number;
  pods: number;
  targeting: Targeting;
  run: number;
}

export interface FailedCell {
  contender: string;
  sockets: number;
  run: number;
  error: string;
}

/** Client processes for a socket count: one reads up to ~2k sockets comfortably, two beyond. */
export function clientProcessesFor(sockets: number): number {
  return sockets > 2000 ? 2 : 1;
}

export function say(line: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
}

/**
 * Starts a contender, opens `sockets` sockets spread over its pods, and measures every
 * targeting flat out. Everything it started is stopped before it returns.
 */
export async function measureContender(
  contender: Contender,
  brokers: BrokerUrls,
  sockets: number,
  options: BenchOptions,
  run: number,
  brokerPids: number[] = [],
  transportOverride?: (running: Running) => PublishTransport,
): Promise<FlatRow[]> {
  const running = await contender.start(brokers);
  const fleet = ClientFleet.start(clientProcessesFor(sockets));
  const publisher = WorkerProcess.start('publisher', BUN, [`${ROOT}bench/load/publisher-worker.ts`]);
  try {
    const podCount = running.pods.length;
    const targets: SocketTarget[] = running.pods.map((pod, i) => ({
      port: pod.port,
      from: Math.floor((sockets * i) / podCount),
      to: Math.floor((sockets * (i + 1)) / podCount),
    }));
    const connected = await fleet.connect({ protocol: running.protocol, targets, jwtSecret: JWT_SECRET });
    if (connected.failed > 0) {
      throw new Error(`${connected.failed} of ${sockets} sockets failed to open: ${connected.errors.join('; ')}`);
    }
    say(`${contender.id}: ${sockets} sockets open in ${connected.ms} ms`);
    const rows: FlatRow[] = [];
    for (const targeting of options.targetings) {
      const stream = { from: 0, to: sockets, targeting };
      const largestBody = Math.max(...buildBodies(stream).map((b) => b.deliveries));
      const result = await measureFlat({
        fleet,
        publisher,
        command: { transport: transportOverride?.(running) ?? running.transport, stream, concurrency: 2 },
        serverPids: running.pods.map((p) => p.pid),
        brokerPids,
        warmupMs: options.warmupMs,
        measureMs: options.measureMs,
        window: Math.min(1_000_000, Math.max(4 * largestBody, 50 * sockets)),
      });
      const row: FlatRow = { contender: contender.id, label: contender.label, sockets, pods: podCount, targeting, run, ...result };
      rows.push(row);
      say(
        `${contender.id} ${sockets} ${targeting}: ${fmt(result.framesPerS)} frames/s, ${result.cpuSPerMFrames.toFixed(2)} CPU-s/M, ` +
          `server ${result.serverCores.toFixed(2)} cores, clients ${result.clientCores.toFixed(2)}, ` +
          `delivered ${result.delivered}/${result.expected}${result.publishErrors ? `, ${result.publishErrors} publish errors (${result.lastPublishError})` : ''}`,
      );
      for (const pod of running.pods) if (!pod.alive) throw new Error(`${pod.name} died: ${pod.stderr.slice(-5).join(' | ')}`);
    }
    return rows;
  } finally {
    await publisher.request({ cmd: 'close' }, 5_000).catch(() => undefined);
    await Promise.all([fleet.stop(), publisher.stop()]);
    await running.stop();
  }
}

export function fmt(n: number): string {
  if (!Number.isFinite(n)) return '—';
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return n.toFixed(0);
}
