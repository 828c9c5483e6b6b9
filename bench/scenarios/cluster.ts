import { readdirSync, readFileSync } from 'node:fs';
import { ONE_POD, twoPodContenders, type BrokerUrls } from '../contenders.js';
import { startNats } from '../lib/nats-server.js';
import type { BenchOptions } from '../lib/options.js';
import { measureContender, say, type FailedCell, type FlatRow } from './common.js';

export interface ClusterResult {
  rows: FlatRow[];
  failed: FailedCell[];
  brokers: { nats: string; amqp: string; redis: string };
  natsWarnings: string[];
}

/** Pids of processes by command name, e.g. the shared redis-server (its CPU is shown beside the pods'). */
export function pidsNamed(name: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === name) pids.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

/**
 * Scenario 2: two pods and a broker, sockets split half and half, 1 and 100 targets per event;
 * Herald on one pod with the same sockets is measured in the same run as the reference.
 */
export async function runCluster(options: BenchOptions): Promise<ClusterResult> {
  const runId = Math.random().toString(36).slice(2, 8);
  const nats = await startNats();
  const brokers: BrokerUrls = {
    nats: nats.url,
    amqp: process.env.BENCH_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
    redis: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
  };
  const brokerPids: Record<string, number[]> = {
    'herald-nats': [nats.pid],
    'herald-nats-recovery': [nats.pid],
    'herald-nats-http': [nats.pid],
    'herald-nats-http-recovery': [nats.pid],
    'herald-amqp': pidsNamed('beam.smp'),
    'herald-amqp-norecovery': pidsNamed('beam.smp'),
    'socketio-redis': pidsNamed('redis-server'),
  };
  // One pod, recovery on (the reference of every ratio) and off (the reference of the recovery-off contenders).
  const references = ONE_POD.filter((c) => c.id === 'herald-bun' || c.id === 'herald-bun-norecovery');
  const contenders = [...references, ...twoPodContenders(runId)].filter(
    (c) => options.contenders.length === 0 || options.contenders.includes(c.id),
  );
  const clusterOptions = { ...options, targetings: options.targetings.filter((t) => t !== 'all') };
  const rows: FlatRow[] = [];
  const failed: FailedCell[] = [];
  try {
    for (let run = 0; run < options.runs; run++) {
      const order = run % 2 === 0 ? contenders : [...contenders].reverse();
      for (const contender of order) {
        try {
          rows.push(
            ...(await measureContender(contender, brokers, options.clusterSockets, clusterOptions, run, brokerPids[contender.id] ?? [])),
          );
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          say(`${contender.id}: FAILED ${message}`);
          failed.push({ contender: contender.id, sockets: options.clusterSockets, run, error: message });
        }
      }
    }
  } finally {
    await nats.stop();
  }
  return {
    rows,
    failed,
    brokers: { nats: 'private nats-server -js', amqp: brokers.amqp!, redis: brokers.redis! },
    natsWarnings: nats.warnings,
  };
}
