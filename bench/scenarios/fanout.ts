import { ONE_POD } from '../contenders.js';
import type { BenchOptions } from '../lib/options.js';
import { measureContender, say, type FailedCell, type FlatRow } from './common.js';

export interface FanoutResult {
  rows: FlatRow[];
  failed: FailedCell[];
}

/** Scenario 1: one pod, every contender, every size and targeting; runs alternate the contender order. */
export async function runFanout(options: BenchOptions): Promise<FanoutResult> {
  const contenders = ONE_POD.filter((c) => options.contenders.length === 0 || options.contenders.includes(c.id));
  const rows: FlatRow[] = [];
  const failed: FailedCell[] = [];
  for (let run = 0; run < options.runs; run++) {
    const order = run % 2 === 0 ? contenders : [...contenders].reverse();
    for (const sockets of options.fanoutSizes) {
      for (const contender of order) {
        try {
          rows.push(...(await measureContender(contender, {}, sockets, options, run)));
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          say(`${contender.id} ${sockets}: FAILED ${message}`);
          failed.push({ contender: contender.id, sockets, run, error: message });
        }
      }
    }
  }
  return { rows, failed };
}
