import { JWT_SECRET } from '../contenders.js';
import { ClientFleet } from '../load/fleet.js';
import { sleep } from '../lib/measure.js';
import type { BenchOptions } from '../lib/options.js';
import { say } from './common.js';
import { memoryAfterGc, registries, startInspectablePod, type MemoryReading } from './pod-memory.js';

export interface ChurnRow {
  pod: 'herald-bun' | 'herald-node';
  warmupCycles: number;
  cycles: number;
  failed: number;
  errors: string[];
  connectsPerS: number;
  before: MemoryReading;
  after: MemoryReading;
  heapDeltaMiB: number;
  rssDeltaMiB: number;
  registriesBefore: Record<string, number>;
  registriesAfter: Record<string, number>;
}

/**
 * Warm-up cycles fill the token cache (10 000 entries) and the JIT before the baseline, so the
 * baseline is the steady state and what grows after it is a leak, not a bounded cache.
 */
const WARMUP_CYCLES = 12_000;
const CONCURRENCY_PER_PROCESS = 64;

/**
 * Scenario 5: connect → authenticate (JWT at the upgrade) → receive (welcome, then a pong to
 * a ping) → client close, over and over; heap and RSS after a full GC before and after, and
 * Herald's registries, which must be back at zero.
 */
export async function runChurn(options: BenchOptions): Promise<ChurnRow[]> {
  const rows: ChurnRow[] = [];
  for (const runtime of options.churnRuntimes) {
    const kind = runtime === 'bun' ? 'herald-bun' : 'herald-node';
    let pod: Awaited<ReturnType<typeof startInspectablePod>> | undefined;
    let fleet: ClientFleet | undefined;
    try {
      pod = await startInspectablePod(kind);
      fleet = ClientFleet.start(2);
      const cycles = runtime === 'bun' ? options.churnCycles : options.churnCyclesNode;
      const warmupCycles = cycles < 1_000 ? cycles : WARMUP_CYCLES;
      const common = { host: '127.0.0.1', port: pod.port, jwtSecret: JWT_SECRET, concurrency: CONCURRENCY_PER_PROCESS };
      const warm = await fleet.churn({ ...common, cycles: warmupCycles, prefix: 'warm' });
      if (warm.failed > 0) say(`churn ${kind}: ${warm.failed} warm-up cycles failed: ${warm.errors.join('; ')}`);
      await sleep(1_000);
      const before = await memoryAfterGc(pod);
      const registriesBefore = await registries(pod);
      const result = await fleet.churn({ ...common, cycles, prefix: 'run' });
      await sleep(2_000);
      const after = await memoryAfterGc(pod);
      const registriesAfter = await registries(pod);
      const row: ChurnRow = {
        pod: kind,
        warmupCycles,
        cycles: result.cycles,
        failed: result.failed,
        errors: result.errors,
        connectsPerS: (result.cycles - result.failed) / (result.ms / 1000),
        before,
        after,
        heapDeltaMiB: after.heapUsedMiB - before.heapUsedMiB,
        rssDeltaMiB: after.rssMiB - before.rssMiB,
        registriesBefore,
        registriesAfter,
      };
      rows.push(row);
      say(
        `churn ${kind}: ${result.cycles} cycles (${result.failed} failed${result.errors[0] ? `: ${result.errors[0]}` : ''}) at ${row.connectsPerS.toFixed(0)}/s; ` +
          `heap ${before.heapUsedMiB.toFixed(2)} → ${after.heapUsedMiB.toFixed(2)} MiB, RSS ${before.rssMiB.toFixed(1)} → ${after.rssMiB.toFixed(1)} MiB; ` +
          `registries after ${JSON.stringify(registriesAfter)}`,
      );
    } catch (error) {
      say(`churn ${kind} FAILED ${(error as Error).message}`);
      rows.push({
        pod: kind, warmupCycles: 0, cycles: 0, failed: options.churnCycles, errors: [(error as Error).message], connectsPerS: NaN,
        before: { heapUsedMiB: NaN, rssMiB: NaN, externalMiB: NaN }, after: { heapUsedMiB: NaN, rssMiB: NaN, externalMiB: NaN }, heapDeltaMiB: NaN, rssDeltaMiB: NaN,
        registriesBefore: {}, registriesAfter: {},
      });
    } finally {
      await fleet?.stop();
      await pod?.stop();
    }
  }
  return rows;
}
