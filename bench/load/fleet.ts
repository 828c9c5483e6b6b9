import * as hdr from 'hdr-histogram-js';
import { BUN, ROOT } from '../contenders.js';
import { WorkerProcess } from '../lib/worker-process.js';
import type {
  ChurnCommand,
  ChurnResult,
  ClientProtocol,
  ClientStats,
  ConnectResult,
  LatencyReport,
  ResumeCommand,
  ResumeResult,
  SocketTarget,
} from './client-protocol.js';

/** Source addresses per client process: 4 × ~28k ephemeral ports each toward one server port. */
const ADDRESSES_PER_WORKER = 4;

export interface FleetConnect {
  protocol: ClientProtocol;
  targets: SocketTarget[];
  jwtSecret?: string;
  latency?: boolean;
  concurrency?: number;
  /** Remember each socket's epoch and last seq, for `drop` and `resume` (§6). */
  track?: boolean;
}

/** Several client processes acting as one: sockets are split evenly between them. */
export class ClientFleet {
  private constructor(readonly workers: WorkerProcess[]) {}

  static start(count: number): ClientFleet {
    return new ClientFleet(
      Array.from({ length: count }, (_, i) => WorkerProcess.start(`client-${i}`, BUN, [`${ROOT}bench/load/client-worker.ts`])),
    );
  }

  get pids(): number[] {
    return this.workers.map((w) => w.pid);
  }

  localAddresses(worker: number): string[] {
    return Array.from({ length: ADDRESSES_PER_WORKER }, (_, i) => `127.0.0.${10 + worker * ADDRESSES_PER_WORKER + i}`);
  }

  async connect(options: FleetConnect): Promise<ConnectResult> {
    const n = this.workers.length;
    const results = await Promise.all(
      this.workers.map((worker, w) => {
        const targets = options.targets.map((t) => {
          const size = t.to - t.from;
          return { port: t.port, from: t.from + Math.floor((size * w) / n), to: t.from + Math.floor((size * (w + 1)) / n) };
        });
        return worker.request<ConnectResult>(
          {
            cmd: 'connect',
            host: '127.0.0.1',
            targets,
            protocol: options.protocol,
            jwtSecret: options.jwtSecret,
            localAddresses: this.localAddresses(w),
            concurrency: options.concurrency ?? 200,
            latency: options.latency ?? false,
            track: options.track ?? false,
          },
          300_000,
        );
      }),
    );
    return {
      opened: results.reduce((a, r) => a + r.opened, 0),
      failed: results.reduce((a, r) => a + r.failed, 0),
      errors: results.flatMap((r) => r.errors).slice(0, 5),
      ms: Math.max(...results.map((r) => r.ms)),
    };
  }

  async stats(): Promise<ClientStats> {
    const all = await Promise.all(this.workers.map((w) => w.request<ClientStats>({ cmd: 'stats' })));
    const closes: Record<string, number> = {};
    for (const s of all) for (const [code, count] of Object.entries(s.closes)) closes[code] = (closes[code] ?? 0) + count;
    return {
      events: all.reduce((a, s) => a + s.events, 0),
      bytes: all.reduce((a, s) => a + s.bytes, 0),
      open: all.reduce((a, s) => a + s.open, 0),
      closes,
    };
  }

  /** The latency recorded since the last call, merged over every client process (µs). */
  async latency(): Promise<hdr.Histogram> {
    const reports = await Promise.all(this.workers.map((w) => w.request<LatencyReport>({ cmd: 'latency' })));
    const merged = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
    for (const report of reports) merged.add(hdr.decodeFromCompressedBase64(report.histogram));
    return merged;
  }

  async churn(command: Omit<ChurnCommand, 'localAddresses' | 'prefix'> & { prefix: string }): Promise<ChurnResult> {
    const n = this.workers.length;
    const results = await Promise.all(
      this.workers.map((worker, w) =>
        worker.request<ChurnResult>(
          {
            cmd: 'churn',
            ...command,
            cycles: Math.floor(command.cycles / n) + (w < command.cycles % n ? 1 : 0),
            prefix: `${command.prefix}w${w}-`,
            localAddresses: this.localAddresses(w),
          },
          600_000,
        ),
      ),
    );
    return {
      cycles: results.reduce((a, r) => a + r.cycles, 0),
      failed: results.reduce((a, r) => a + r.failed, 0),
      errors: results.flatMap((r) => r.errors).slice(0, 5),
      ms: Math.max(...results.map((r) => r.ms)),
    };
  }

  /** Cuts every tracked socket's TCP connection at once (no close frame). */
  async drop(): Promise<number> {
    const results = await Promise.all(this.workers.map((w) => w.request<{ dropped: number }>({ cmd: 'drop' }, 60_000)));
    return results.reduce((a, r) => a + r.dropped, 0);
  }

  /** Every process reopens its tracked sockets at once; the answers of all of them, merged. */
  async resume(command: Omit<ResumeCommand, 'host'>): Promise<ResumeResult> {
    const results = await Promise.all(
      this.workers.map((w) => w.request<ResumeResult>({ cmd: 'resume', host: '127.0.0.1', ...command }, command.timeoutMs + 120_000)),
    );
    const sum = (pick: (r: ResumeResult) => number) => results.reduce((a, r) => a + pick(r), 0);
    return {
      resumed: sum((r) => r.resumed),
      failed: sum((r) => r.failed),
      errors: results.flatMap((r) => r.errors).slice(0, 5),
      ms: Math.max(...results.map((r) => r.ms)),
      doneMs: results.flatMap((r) => r.doneMs),
      gaps: sum((r) => r.gaps),
      wrongReplayed: sum((r) => r.wrongReplayed),
      received: sum((r) => r.received),
      outOfOrder: sum((r) => r.outOfOrder),
      noSeq: sum((r) => r.noSeq),
    };
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.request({ cmd: 'close-all' }, 60_000)));
  }

  async stop(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.stop()));
  }
}
