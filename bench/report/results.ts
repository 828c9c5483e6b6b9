import type { CapacityRow } from '../scenarios/capacity.js';
import type { ChurnRow } from '../scenarios/churn.js';
import type { ClusterResult } from '../scenarios/cluster.js';
import type { FanoutResult } from '../scenarios/fanout.js';
import type { LatencyResult } from '../scenarios/latency.js';
import type { RecoveryMemoryResult } from '../scenarios/recovery-memory.js';
import type { StormResult } from '../scenarios/resume-storm.js';
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
  /** Recovery (§6): sockets resuming at once. */
  resumeStorm?: StormResult;
  /** Recovery (§6): what a kept event costs in memory. */
  recoveryMemory?: RecoveryMemoryResult;
}
