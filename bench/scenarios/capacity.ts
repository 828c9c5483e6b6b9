import { JWT_SECRET } from '../contenders.js';
import { ClientFleet } from '../load/fleet.js';
import { sleep } from '../lib/measure.js';
import { sampleProcess } from '../lib/proc-stats.js';
import type { BenchOptions } from '../lib/options.js';
import { say } from './common.js';
import { memoryAfterGc, registries, startInspectablePod, type PodKind } from './pod-memory.js';

export interface CapacityRow {
  pod: PodKind;
  /** Herald pods: the event log kept (the default) or HERALD_RECOVERY_WINDOW_S=0; undefined for the raw peer. */
  recovery?: boolean;
  target: number;
  opened: number;
  failed: number;
  errors: string[];
  connectMs: number;
  clientProcesses: number;
  /** After a full GC, before any socket and after all sockets, idle for 2 s. */
  rssBeforeMiB: number;
  rssAfterMiB: number;
  heapBeforeMiB: number;
  heapAfterMiB: number;
  rssBytesPerSocket: number;
  heapBytesPerSocket: number;
  /**
   * Again after the idle window, with every socket still open: the allocators have had time to
   * hand back what the connect storm freed, so this is what an idle socket keeps.
   */
  rssIdleBytesPerSocket: number;
  heapIdleBytesPerSocket: number;
  /** Herald's own count of open sockets with every client connected. */
  connectionsReported: number;
  /** The pod's CPU while every socket sits idle (protocol pings only), in cores, over `idleWindowS`. */
  idleCores: number;
  idleWindowS: number;
  /** HERALD_IDLE_TIMEOUT_S the pod ran with (pings go out about every timeout/2 … timeout). */
  idleTimeoutS: number;
  /** Sockets still open after the idle window: healthy clients that answer pings must all survive. */
  openAfterIdle: number;
}

/** The shortest timeout Herald accepts: the most pings per second, to measure what a ping costs. */
const IDLE_TIMEOUT_S = 8;

const SOCKETS_PER_CLIENT_PROCESS = 5_000;

/**
 * Scenario 4: one pod fills up to its open-file limit with authenticated idle sockets from
 * several client processes over 127.0.0.x source addresses; RSS and heap per socket.
 */
export async function runCapacity(options: BenchOptions): Promise<CapacityRow[]> {
  // Recovery keeps nothing per idle socket: both are measured to show it.
  const pods: { kind: PodKind; recovery?: boolean }[] = [
    ...options.capacityRuntimes.flatMap((r) => {
      const kind: PodKind = r === 'bun' ? 'herald-bun' : 'herald-node';
      return [{ kind, recovery: true }, { kind, recovery: false }];
    }),
    { kind: 'raw-bun' },
  ];
  const rows: CapacityRow[] = [];
  for (const { kind, recovery } of pods) {
    const label = recovery === undefined ? kind : `${kind} recovery ${recovery ? 'on' : 'off'}`;
    const processes = Math.max(1, Math.ceil(options.capacitySockets / SOCKETS_PER_CLIENT_PROCESS));
    let pod: Awaited<ReturnType<typeof startInspectablePod>> | undefined;
    let fleet: ClientFleet | undefined;
    try {
      pod = await startInspectablePod(kind, {
        HERALD_IDLE_TIMEOUT_S: String(IDLE_TIMEOUT_S),
        ...(recovery === false ? { HERALD_RECOVERY_WINDOW_S: '0' } : {}),
      });
      fleet = ClientFleet.start(processes);
      await sleep(500);
      const before = await memoryAfterGc(pod);
      const opened = await fleet.connect({
        protocol: kind === 'raw-bun' ? 'plain' : 'herald',
        jwtSecret: JWT_SECRET,
        targets: [{ port: pod.port, from: 0, to: options.capacitySockets }],
        concurrency: 100,
      });
      await sleep(2_000);
      const after = await memoryAfterGc(pod);
      const reported = kind === 'raw-bun' ? opened.opened : (await registries(pod)).herald_connections!;
      const idle0 = sampleProcess(pod.pid);
      const idleStart = performance.now();
      await sleep(options.capacityIdleMs);
      const idle1 = sampleProcess(pod.pid);
      const idleWindowS = (performance.now() - idleStart) / 1000;
      const openAfterIdle = (await fleet.stats()).open;
      const settled = await memoryAfterGc(pod);
      const perSocket = (mib: number) => (opened.opened > 0 ? (mib * 2 ** 20) / opened.opened : Number.NaN);
      const row: CapacityRow = {
        pod: kind,
        recovery,
        target: options.capacitySockets,
        opened: opened.opened,
        failed: opened.failed,
        errors: opened.errors,
        connectMs: opened.ms,
        clientProcesses: processes,
        rssBeforeMiB: before.rssMiB,
        rssAfterMiB: after.rssMiB,
        heapBeforeMiB: before.heapUsedMiB,
        heapAfterMiB: after.heapUsedMiB,
        rssBytesPerSocket: perSocket(after.rssMiB - before.rssMiB),
        heapBytesPerSocket: perSocket(after.heapUsedMiB - before.heapUsedMiB),
        rssIdleBytesPerSocket: perSocket(settled.rssMiB - before.rssMiB),
        heapIdleBytesPerSocket: perSocket(settled.heapUsedMiB - before.heapUsedMiB),
        connectionsReported: reported,
        idleCores: idle0 && idle1 ? (idle1.cpuS - idle0.cpuS) / idleWindowS : Number.NaN,
        idleWindowS,
        idleTimeoutS: kind === 'raw-bun' ? 120 : IDLE_TIMEOUT_S,
        openAfterIdle,
      };
      rows.push(row);
      say(
        `capacity ${label}: ${opened.opened}/${options.capacitySockets} open in ${opened.ms} ms (${opened.failed} failed${opened.errors[0] ? `: ${opened.errors[0]}` : ''}), ` +
          `RSS ${before.rssMiB.toFixed(1)} → ${after.rssMiB.toFixed(1)} MiB = ${row.rssBytesPerSocket.toFixed(0)} B/socket, ` +
          `heap ${row.heapBytesPerSocket.toFixed(0)} B/socket; after the idle window RSS ${row.rssIdleBytesPerSocket.toFixed(0)} B/socket, heap ${row.heapIdleBytesPerSocket.toFixed(0)} B/socket; idle ${row.idleCores.toFixed(3)} cores over ${idleWindowS.toFixed(0)} s ` +
          `(idle timeout ${row.idleTimeoutS} s), ${openAfterIdle} still open`,
      );
    } catch (error) {
      say(`capacity ${label} FAILED ${(error as Error).message}`);
      rows.push({
        pod: kind, recovery, target: options.capacitySockets, opened: 0, failed: options.capacitySockets, errors: [(error as Error).message],
        connectMs: 0, clientProcesses: processes, rssBeforeMiB: NaN, rssAfterMiB: NaN, heapBeforeMiB: NaN, heapAfterMiB: NaN,
        rssBytesPerSocket: NaN, heapBytesPerSocket: NaN, rssIdleBytesPerSocket: NaN, heapIdleBytesPerSocket: NaN, connectionsReported: NaN, idleCores: NaN, idleWindowS: 0,
        idleTimeoutS: IDLE_TIMEOUT_S, openAfterIdle: 0,
      });
    } finally {
      await fleet?.stop();
      await pod?.stop();
    }
  }
  return rows;
}
