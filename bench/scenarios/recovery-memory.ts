import { publishBulk } from '../lib/bulk-publish.js';
import { sleep } from '../lib/measure.js';
import { BYTES_PER_EVENT, BYTES_PER_TARGET } from '../../src/recovery/recent-events.js';
import type { BenchOptions } from '../lib/options.js';
import { say } from './common.js';
import { memoryAfterGc, metricValues, startInspectablePod } from './pod-memory.js';

/** Users the events go to (per-user queues of the index): event i to `targets` consecutive users from (i × targets) mod USERS. */
const USERS = 10_000;
/** Published before the first reading, so that the code paths are warm and the allocator has grown once. */
const WARMUP_EVENTS = 2_000;

export interface RecoveryMemoryRow {
  runtime: 'bun' | 'node';
  recovery: boolean;
  targets: number;
  /** Events published between the two readings. */
  events: number;
  /** After a full GC, before and after (MiB). */
  heapBeforeMiB: number;
  heapAfterMiB: number;
  rssBeforeMiB: number;
  rssAfterMiB: number;
  heapBytesPerEvent: number;
  /** The index keeps frames' bytes in Buffers: process.memoryUsage().external (Node: outside heapUsed; Bun counts them in heapUsed too). */
  externalBytesPerEvent: number;
  rssBytesPerEvent: number;
  /** What the pod counts (herald_recovery_bytes), per event. */
  countedBytesPerEvent: number;
  /** The frame's share of the count: counted − BYTES_PER_EVENT − BYTES_PER_TARGET × targets (recent-events.ts). */
  frameBytes: number;
}

export interface RecoveryMemoryResult {
  users: number;
  rows: RecoveryMemoryRow[];
  errors: string[];
}

const targetsOf = (targets: number) => (i: number) =>
  Array.from({ length: targets }, (_, k) => `u${(i * targets + k) % USERS}`);

async function measure(runtime: 'bun' | 'node', recovery: boolean, targets: number, events: number): Promise<RecoveryMemoryRow> {
  const pod = await startInspectablePod(runtime === 'bun' ? 'herald-bun' : 'herald-node', recovery ? {} : { HERALD_RECOVERY_WINDOW_S: '0' });
  try {
    await publishBulk(pod.port, WARMUP_EVENTS, targetsOf(targets));
    await sleep(500);
    const before = await memoryAfterGc(pod);
    const counted0 = (await metricValues(pod, ['herald_recovery_bytes'])).herald_recovery_bytes!;
    await publishBulk(pod.port, events, (i) => targetsOf(targets)(i + WARMUP_EVENTS));
    await sleep(500);
    const after = await memoryAfterGc(pod);
    const counted1 = (await metricValues(pod, ['herald_recovery_bytes'])).herald_recovery_bytes!;
    const counted = (counted1 - counted0) / events;
    const row: RecoveryMemoryRow = {
      runtime,
      recovery,
      targets,
      events,
      heapBeforeMiB: before.heapUsedMiB,
      heapAfterMiB: after.heapUsedMiB,
      rssBeforeMiB: before.rssMiB,
      rssAfterMiB: after.rssMiB,
      heapBytesPerEvent: ((after.heapUsedMiB - before.heapUsedMiB) * 2 ** 20) / events,
      externalBytesPerEvent: ((after.externalMiB - before.externalMiB) * 2 ** 20) / events,
      rssBytesPerEvent: ((after.rssMiB - before.rssMiB) * 2 ** 20) / events,
      countedBytesPerEvent: counted,
      frameBytes: recovery ? counted - BYTES_PER_EVENT - BYTES_PER_TARGET * targets : Number.NaN,
    };
    say(
      `recovery memory ${runtime} ${recovery ? 'on' : 'off'} ${targets} target(s), ${events} events: ` +
        `heap ${row.heapBytesPerEvent.toFixed(0)} B/event, external ${row.externalBytesPerEvent.toFixed(0)}, RSS ${row.rssBytesPerEvent.toFixed(0)} B/event, counted ${counted.toFixed(0)} B/event`,
    );
    return row;
  } finally {
    await pod.stop();
  }
}

/**
 * Recovery (§6): what one kept event costs a pod. One pod (local bus, no sockets) per cell:
 * a full GC before and after publishing N events, the difference in heap and RSS over N,
 * beside what the pod counts against HERALD_RECOVERY_MAX_BYTES (herald_recovery_bytes). The
 * same with recovery off is the control (nothing should stay).
 */
export async function runRecoveryMemory(options: BenchOptions): Promise<RecoveryMemoryResult> {
  const rows: RecoveryMemoryRow[] = [];
  const errors: string[] = [];
  for (const runtime of options.memoryRuntimes) {
    for (const targets of options.memoryTargets) {
      for (const recovery of [true, false]) {
        const events = targets === 1 ? options.memoryEvents : options.memoryEventsWide;
        try {
          rows.push(await measure(runtime, recovery, targets, events));
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          say(`recovery memory ${runtime} ${recovery ? 'on' : 'off'} ${targets} FAILED ${message}`);
          errors.push(`${runtime} ${recovery ? 'on' : 'off'} ${targets} targets: ${message}`);
        }
      }
    }
  }
  return { users: USERS, rows, errors };
}

/**
 * Least squares of bytes per event over targets per event (recovery on, one runtime):
 * bytes ≈ perEvent + perTarget × targets.
 */
export function fitPerTarget(rows: RecoveryMemoryRow[], pick: (r: RecoveryMemoryRow) => number): { perEvent: number; perTarget: number } {
  const n = rows.length;
  if (n < 2) return { perEvent: Number.NaN, perTarget: Number.NaN };
  const mx = rows.reduce((a, r) => a + r.targets, 0) / n;
  const my = rows.reduce((a, r) => a + pick(r), 0) / n;
  const sxx = rows.reduce((a, r) => a + (r.targets - mx) ** 2, 0);
  const sxy = rows.reduce((a, r) => a + (r.targets - mx) * (pick(r) - my), 0);
  const perTarget = sxy / sxx;
  return { perEvent: my - perTarget * mx, perTarget };
}
