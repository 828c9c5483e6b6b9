import type { CapacityRow } from '../scenarios/capacity.js';
import type { ChurnRow } from '../scenarios/churn.js';
import type { ClusterResult } from '../scenarios/cluster.js';
import type { FanoutResult } from '../scenarios/fanout.js';
import type { LatencyResult } from '../scenarios/latency.js';
import type { BackpressureRow } from '../scenarios/tuning.js';
import type { BenchOptions } from '../lib/options.js';

/** What one `npm run bench` writes to bench/results/latest.json. */
export interface BenchResults {
  meta: {
    startedAt: string;
    finishedAt: string;
    durationS: number;
    machine: { cpu: string; cores: number; memoryGiB: number; kernel: string; openFileLimit: string };
    versions: { bun: string; node: string; herald: string; commit: string };
    /** Load average when the run began: other work on a shared machine shows here. */
    loadAverageAtStart: string;
    options: BenchOptions;
  };
  /** Scenarios that stopped with an error (their figures are missing). */
  errors: string[];
  fanout?: FanoutResult;
  cluster?: ClusterResult;
  latency?: LatencyResult;
  capacity?: CapacityRow[];
  churn?: ChurnRow[];
  /** For docs/tuning.md: HERALD_MAX_BACKPRESSURE under unpaced load. */
  backpressure?: BackpressureRow[];
}
