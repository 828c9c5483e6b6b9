import { BUN, heraldEnv, JWT_SECRET, PUBLISH_TOKEN, ROOT, startHeraldPod } from '../contenders.js';
import { ClientFleet } from '../load/fleet.js';
import { measureFlat } from '../lib/measure.js';
import type { BenchOptions } from '../lib/options.js';
import { WorkerProcess } from '../lib/worker-process.js';
import { clientProcessesFor, say } from './common.js';

export interface BackpressureRow {
  maxBackpressure: number;
  sockets: number;
  framesPerS: number;
  cpuSPerMFrames: number;
  serverRssMiB: number;
  /** Sockets Herald closed as slow consumers (4008) while every client was reading as fast as it could. */
  closed4008: number;
  delivered: number;
  expected: number;
}

export const BACKPRESSURE_LIMITS = [64 * 1024, 256 * 1024, 1024 * 1024];

/**
 * For HERALD_MAX_BACKPRESSURE: events to everyone, published with no pacing at all (only the
 * HTTP round trip), so the pod writes faster than the clients read and buffers fill. Which
 * limit drops healthy, reading clients (4008), and what does the pod's memory do?
 */
export async function runBackpressure(options: BenchOptions): Promise<BackpressureRow[]> {
  const sockets = options.fanoutSizes[0] ?? 1000;
  const rows: BackpressureRow[] = [];
  for (const limit of BACKPRESSURE_LIMITS) {
    const pod = await startHeraldPod('bun', heraldEnv({ extra: { HERALD_MAX_BACKPRESSURE: String(limit) } }), `herald-bp-${limit}`);
    const fleet = ClientFleet.start(clientProcessesFor(sockets));
    const publisher = WorkerProcess.start('publisher', BUN, [`${ROOT}bench/load/publisher-worker.ts`]);
    try {
      const opened = await fleet.connect({ protocol: 'herald', jwtSecret: JWT_SECRET, targets: [{ port: pod.port, from: 0, to: sockets }] });
      if (opened.failed) throw new Error(`${opened.failed} sockets failed: ${opened.errors.join('; ')}`);
      const result = await measureFlat({
        fleet,
        publisher,
        command: {
          transport: { kind: 'http', url: `http://127.0.0.1:${pod.port}/v1/events`, token: PUBLISH_TOKEN },
          stream: { from: 0, to: sockets, targeting: 'all' },
          concurrency: 4,
        },
        serverPids: [pod.pid],
        warmupMs: options.warmupMs,
        measureMs: options.measureMs,
        window: Number.MAX_SAFE_INTEGER,
      });
      const metrics = await fetch(`http://127.0.0.1:${pod.port}/metrics`).then((r) => r.text());
      const slow = Number(metrics.split('\n').find((l) => l.startsWith('herald_slow_consumer_total '))?.split(' ')[1] ?? NaN);
      const row: BackpressureRow = {
        maxBackpressure: limit,
        sockets,
        framesPerS: result.framesPerS,
        cpuSPerMFrames: result.cpuSPerMFrames,
        serverRssMiB: result.serverRssMiB,
        closed4008: Number.isFinite(slow) ? slow : (result.closes['4008'] ?? 0),
        delivered: result.delivered,
        expected: result.expected,
      };
      rows.push(row);
      say(
        `backpressure ${limit / 1024} KiB: ${row.framesPerS.toFixed(0)} frames/s, ${row.closed4008} closed 4008, RSS ${row.serverRssMiB.toFixed(0)} MiB, delivered ${row.delivered}/${row.expected}`,
      );
    } finally {
      await publisher.request({ cmd: 'close' }, 5_000).catch(() => undefined);
      await Promise.all([fleet.stop(), publisher.stop()]);
      await pod.stop();
    }
  }
  return rows;
}
