import { parseArgs } from 'node:util';
import type { Targeting } from './event-stream.js';

export const SCENARIOS = ['fanout', 'cluster', 'latency', 'capacity', 'churn', 'backpressure', 'resume-storm', 'recovery-memory'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/** Sizes of one `npm run bench`; the defaults end in a few minutes on the 2-core machine. */
export interface BenchOptions {
  scenarios: ScenarioName[];
  /** Restrict scenario 1 and 2 to these contender ids (all when empty). */
  contenders: string[];
  runs: number;
  warmupMs: number;
  measureMs: number;
  fanoutSizes: number[];
  targetings: Targeting[];
  clusterSockets: number;
  latencyRates: number[];
  latencySockets: number;
  latencyMs: number;
  capacitySockets: number;
  capacityRuntimes: ('bun' | 'node')[];
  /** How long the full pod sits idle to measure what protocol pings cost. */
  capacityIdleMs: number;
  churnCycles: number;
  /** Herald on Node churns fewer cycles: its connects are slower and the default run must stay short. */
  churnCyclesNode: number;
  churnRuntimes: ('bun' | 'node')[];
  /** Resume storm (§6): sockets that drop and resume at once, the events each missed, the live sockets and their events/s meanwhile. */
  stormSockets: number;
  stormMissed: number;
  stormLiveSockets: number;
  stormLiveRate: number;
  /** Handshakes in flight at once per client process during the storm; 0: every socket at once. */
  stormConcurrency: number;
  /** Recovery memory: events kept per measurement with 1 target, and with the largest targeting; targets per event. */
  memoryEvents: number;
  memoryEventsWide: number;
  memoryTargets: number[];
  memoryRuntimes: ('bun' | 'node')[];
  /** Write bench/results/<out>.json and .md (off for trial runs). */
  save: boolean;
  /** Name of the written results: `latest` unless a side run should not replace the main one. */
  out: string;
}

const USAGE = `npm run bench -- [options]
  --only fanout,cluster,latency,capacity,churn,backpressure   scenarios to run (default: all)
  --contenders raw-bun,herald-bun,...             scenario 1/2 contenders (default: all)
  --runs N          runs per cell, alternating order (default 1)
  --warmup S        warm-up seconds (default 1)    --measure S   measured seconds (default 3)
  --sizes 1000,10000                               scenario 1 socket counts
  --targetings single,group,all                    scenario 1 targetings
  --cluster-sockets N    --latency-sockets N   --latency-rates 1000,10000,50000   --latency-seconds S
  --capacity N      sockets for scenario 4 (default 19800: the pod's limit under 20000 open files)
  --churn N         cycles for scenario 5 (default 100000; --churn-node N for Herald on Node, default 20000)
  --storm N         resume storm: sockets that drop and resume at once (default 10000); --storm-missed N events each missed (20)
  --storm-live N    sockets receiving live events meanwhile (100); --storm-rate N their events/s (1000)
  --storm-concurrency N   handshakes in flight per client process (default 0: all at once)
  --memory-events N       recovery memory: events kept with 1 target (default 100000; --memory-events-wide N with more, default 20000)
  --memory-targets 1,100  targets per event (default 1,10,100)   --memory-runtimes bun,node
  --full            the issue's method: --runs 3 --warmup 2 --measure 5
  --tiny            a smoke run: 100 sockets, 1 s, 1 run
  --out NAME        write bench/results/NAME.{json,md} (default latest; the chart only for latest)
  --no-save         do not write bench/results/latest.json`;

export function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      only: { type: 'string' },
      contenders: { type: 'string' },
      runs: { type: 'string' },
      warmup: { type: 'string' },
      measure: { type: 'string' },
      sizes: { type: 'string' },
      targetings: { type: 'string' },
      'cluster-sockets': { type: 'string' },
      'latency-sockets': { type: 'string' },
      'latency-rates': { type: 'string' },
      'latency-seconds': { type: 'string' },
      capacity: { type: 'string' },
      'capacity-runtimes': { type: 'string' },
      churn: { type: 'string' },
      'churn-node': { type: 'string' },
      'churn-runtimes': { type: 'string' },
      storm: { type: 'string' },
      'storm-missed': { type: 'string' },
      'storm-live': { type: 'string' },
      'storm-rate': { type: 'string' },
      'storm-concurrency': { type: 'string' },
      'memory-events': { type: 'string' },
      'memory-events-wide': { type: 'string' },
      'memory-targets': { type: 'string' },
      'memory-runtimes': { type: 'string' },
      full: { type: 'boolean' },
      tiny: { type: 'boolean' },
      'no-save': { type: 'boolean' },
      out: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    process.exit(0);
  }
  const list = (v: string | undefined) => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : undefined);
  const nums = (v: string | undefined) => list(v)?.map(Number);
  const tiny = values.tiny === true;
  const full = values.full === true;
  const options: BenchOptions = {
    scenarios: (list(values.only) as ScenarioName[] | undefined) ?? [...SCENARIOS],
    contenders: list(values.contenders) ?? [],
    runs: Number(values.runs ?? (full ? 3 : 1)),
    warmupMs: Number(values.warmup ?? (full ? 2 : 1)) * 1000,
    measureMs: Number(values.measure ?? (full ? 5 : tiny ? 1 : 3)) * 1000,
    fanoutSizes: nums(values.sizes) ?? (tiny ? [100] : [1000, 10000]),
    targetings: (list(values.targetings) as Targeting[] | undefined) ?? ['single', 'group', 'all'],
    clusterSockets: Number(values['cluster-sockets'] ?? (tiny ? 200 : 1000)),
    latencySockets: Number(values['latency-sockets'] ?? (tiny ? 100 : 1000)),
    latencyRates: nums(values['latency-rates']) ?? (tiny ? [1000] : [1000, 10000, 50000]),
    latencyMs: Number(values['latency-seconds'] ?? (tiny ? 1 : 3)) * 1000,
    capacitySockets: Number(values.capacity ?? (tiny ? 200 : 19_800)),
    capacityRuntimes: (list(values['capacity-runtimes']) as ('bun' | 'node')[] | undefined) ?? ['bun', 'node'],
    capacityIdleMs: (tiny ? 2 : 10) * 1000,
    churnCycles: Number(values.churn ?? (tiny ? 500 : 100_000)),
    churnCyclesNode: Number(values['churn-node'] ?? values.churn ?? (tiny ? 500 : 20_000)),
    churnRuntimes: (list(values['churn-runtimes']) as ('bun' | 'node')[] | undefined) ?? ['bun', 'node'],
    stormSockets: Number(values.storm ?? (tiny ? 200 : 10_000)),
    stormMissed: Number(values['storm-missed'] ?? 20),
    stormLiveSockets: Number(values['storm-live'] ?? (tiny ? 10 : 100)),
    stormLiveRate: Number(values['storm-rate'] ?? 1000),
    stormConcurrency: Number(values['storm-concurrency'] ?? 0),
    memoryEvents: Number(values['memory-events'] ?? (tiny ? 2000 : 100_000)),
    memoryEventsWide: Number(values['memory-events-wide'] ?? (tiny ? 500 : 20_000)),
    memoryTargets: nums(values['memory-targets']) ?? [1, 10, 100],
    memoryRuntimes: (list(values['memory-runtimes']) as ('bun' | 'node')[] | undefined) ?? ['bun', 'node'],
    save: values['no-save'] !== true,
    out: values.out ?? 'latest',
  };
  for (const name of options.scenarios) {
    if (!SCENARIOS.includes(name)) throw new Error(`unknown scenario ${name}; one of ${SCENARIOS.join(', ')}`);
  }
  if (tiny) options.warmupMs = Math.min(options.warmupMs, 500);
  if (!/^[\w.-]+$/.test(options.out)) throw new Error(`--out ${options.out}: letters, digits, dot, dash and underscore only`);
  return options;
}
