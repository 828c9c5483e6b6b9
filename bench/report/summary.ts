import type { FlatRow } from '../scenarios/common.js';
import { median } from '../lib/measure.js';
import type { LatencyRow } from '../scenarios/latency.js';
import { fitPerTarget, type RecoveryMemoryRow } from '../scenarios/recovery-memory.js';
import { stormMedians } from '../scenarios/resume-storm.js';
import type { BenchResults } from './results.js';

export interface Cell {
  contender: string;
  label: string;
  sockets: number;
  pods: number;
  targeting: string;
  runs: number;
  framesPerS: number;
  cpuSPerMFrames: number;
  serverCores: number;
  /** The broker's CPU (a private nats-server's is the bench's alone), cores. */
  brokerCores: number;
  /** Broker CPU seconds per million frames (per run, then the median). */
  brokerCpuSPerMFrames: number;
  clientCores: number;
  /** The publishing process (HTTP client or publisher client), cores. */
  publisherCores: number;
  machineCores: number;
  serverRssMiB: number;
  /** The worst delivered/expected over the runs. */
  deliveredRatio: number;
  closes: Record<string, number>;
}

/** Medians over runs, one cell per contender × sockets × targeting. */
export function cells(rows: FlatRow[]): Cell[] {
  const groups = new Map<string, FlatRow[]>();
  for (const row of rows) {
    const key = `${row.contender}|${row.sockets}|${row.targeting}`;
    groups.set(key, [...(groups.get(key) ?? []), row]);
  }
  return [...groups.values()].map((g) => {
    const first = g[0]!;
    const closes: Record<string, number> = {};
    for (const r of g) for (const [c, n] of Object.entries(r.closes)) closes[c] = (closes[c] ?? 0) + n;
    return {
      contender: first.contender,
      label: first.label,
      sockets: first.sockets,
      pods: first.pods,
      targeting: first.targeting,
      runs: g.length,
      framesPerS: median(g.map((r) => r.framesPerS)),
      cpuSPerMFrames: median(g.map((r) => r.cpuSPerMFrames)),
      serverCores: median(g.map((r) => r.serverCores)),
      brokerCores: median(g.map((r) => r.brokerCores)),
      brokerCpuSPerMFrames: median(g.map((r) => (r.framesPerS > 0 ? (r.brokerCores / r.framesPerS) * 1e6 : Number.NaN))),
      clientCores: median(g.map((r) => r.clientCores)),
      publisherCores: median(g.map((r) => r.publisherCores)),
      machineCores: median(g.map((r) => r.machineCores)),
      serverRssMiB: median(g.map((r) => r.serverRssMiB)),
      deliveredRatio: Math.min(...g.map((r) => (r.expected > 0 ? r.delivered / r.expected : Number.NaN))),
      closes,
    };
  });
}

export function find(list: Cell[], contender: string, sockets: number, targeting: string): Cell | undefined {
  return list.find((c) => c.contender === contender && c.sockets === sockets && c.targeting === targeting);
}

const TARGETING_LABEL: Record<string, string> = { single: '1 user', group: '100 users', all: 'everyone' };
export const targetingLabel = (t: string) => TARGETING_LABEL[t] ?? t;

function num(n: number, digits = 0): string {
  if (!Number.isFinite(n)) return '—';
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function table(header: string[], rows: string[][]): string {
  const lines = [`| ${header.join(' | ')} |`, `|${header.map((h, i) => (i === 0 ? '---' : '---:')).join('|')}|`];
  for (const row of rows) lines.push(`| ${row.join(' | ')} |`);
  return lines.join('\n');
}

/** Issue 15: RSS per idle authenticated socket, ≤ 2.6 KiB (raw Bun.serve alone holds 2.1 KiB). */
const CAPACITY_GOAL_BYTES = 2.6 * 1024;

const verdict = (ok: boolean | undefined) => (ok === undefined ? '—' : ok ? '**met**' : '**missed**');

/** `brokers`: with the publisher's and the broker's cores apart (scenario 2). */
function flatTable(list: Cell[], brokers = false): string {
  const apart = (c: Cell) => (brokers ? [num(c.publisherCores, 2), c.brokerCores > 0 ? num(c.brokerCores, 2) : '—'] : []);
  return table(
    [
      'contender', 'sockets', 'event to', 'frames/s', 'server CPU-s per M frames', 'server cores', 'client cores',
      ...(brokers ? ['publisher cores', 'broker cores'] : []),
      'machine busy (of 2)', 'server RSS MiB', 'delivered',
    ],
    list.map((c) => [
      c.label,
      num(c.sockets),
      targetingLabel(c.targeting),
      num(c.framesPerS),
      num(c.cpuSPerMFrames, 2),
      num(c.serverCores, 2),
      num(c.clientCores, 2),
      ...apart(c),
      num(c.machineCores, 2),
      num(c.serverRssMiB, 0),
      `${num(c.deliveredRatio * 100, 2)} %${Object.keys(c.closes).length ? ` (closed: ${JSON.stringify(c.closes)})` : ''}`,
    ]),
  );
}

/** on ÷ off frames/s of each run (the order alternates between runs), e.g. "0.52, 0.84, 1.41". */
function perRunRatios(rows: FlatRow[], on: string, off: string, sockets: number, targeting: string): string {
  const pick = (id: string) => rows.filter((r) => r.contender === id && r.sockets === sockets && r.targeting === targeting);
  const offRows = pick(off);
  return pick(on)
    .map((r) => {
      const o = offRows.find((x) => x.run === r.run);
      return o ? num(r.framesPerS / o.framesPerS, 2) : '—';
    })
    .join(', ');
}

/** One row per system × rate: the median of each percentile over the runs; counts summed. */
export function latencyMedians(rows: LatencyRow[]): LatencyRow[] {
  const groups = new Map<string, LatencyRow[]>();
  for (const row of rows) {
    const key = `${row.system}|${row.eventsPerSecond}`;
    groups.set(key, [...(groups.get(key) ?? []), row]);
  }
  return [...groups.values()].map((g) => ({
    ...g[0]!,
    p50: median(g.map((r) => r.p50)),
    p99: median(g.map((r) => r.p99)),
    p999: median(g.map((r) => r.p999)),
    max: Math.max(...g.map((r) => r.max)),
    count: g.reduce((a, r) => a + r.count, 0),
    published: g.reduce((a, r) => a + r.published, 0),
    received: g.reduce((a, r) => a + r.received, 0),
    publisherMaxLagMs: Math.max(...g.map((r) => r.publisherMaxLagMs)),
    publishErrors: g.reduce((a, r) => a + r.publishErrors, 0),
    cores: g[0]!.cores
      ? Object.fromEntries(Object.keys(g[0]!.cores).map((k) => [k, median(g.map((r) => r.cores?.[k] ?? Number.NaN))]))
      : undefined,
  }));
}

/** The markdown report of one run: a table per scenario, each goal beside its figure. */
export function renderMarkdown(results: BenchResults): string {
  const out: string[] = [];
  const m = results.meta;
  const o = m.options;
  out.push(`# Herald benchmarks — run of ${m.startedAt.slice(0, 16).replace('T', ' ')} UTC`);
  out.push('');
  out.push(
    `Machine: ${m.machine.cpu}, ${m.machine.cores} cores, ${num(m.machine.memoryGiB)} GiB, Linux ${m.machine.kernel}, open files ${m.machine.openFileLimit}; ` +
      `Bun ${m.versions.bun}, Node ${m.versions.node}; Herald ${m.versions.herald} at ${m.versions.commit}. ` +
      `Load average at start: ${m.loadAverageAtStart} (a shared machine). Duration ${num(m.durationS)} s.`,
  );
  out.push('');
  out.push(
    `Sizes: ${o.runs} run(s) per cell in alternating order (median), ${o.warmupMs / 1000} s warm-up, ${o.measureMs / 1000} s measured; ` +
      `fan-out at ${o.fanoutSizes.join(' and ')} sockets; two pods at ${o.clusterSockets} sockets; latency at ${o.latencySockets} sockets, ` +
      `${o.latencyRates.join('/')} events/s for ${o.latencyMs / 1000} s each; capacity ${o.capacitySockets} sockets; churn ${o.churnCycles} cycles on Bun and ${o.churnCyclesNode} on Node (after warm-up).`,
  );

  if (results.fanout) {
    const list = cells(results.fanout.rows);
    out.push('', '## 1. Fan-out on one pod', '', flatTable(list), '');
    const goalRows: string[][] = [];
    for (const sockets of o.fanoutSizes) {
      for (const t of o.targetings) {
        const raw = find(list, 'raw-bun', sockets, t);
        const herald = find(list, 'herald-bun', sockets, t);
        if (!raw || !herald) continue;
        const speed = herald.framesPerS / raw.framesPerS;
        const cpu = raw.cpuSPerMFrames / herald.cpuSPerMFrames;
        goalRows.push([
          `${num(sockets)} sockets, ${targetingLabel(t)}`,
          `${num(speed, 2)} ×`,
          verdict(speed >= 0.9),
          `${num(cpu, 2)} ×`,
          verdict(cpu >= 0.9),
        ]);
      }
    }
    if (goalRows.length > 0) {
      out.push('Goal: Herald on Bun ≥ 0.9 × raw Bun.serve in frames/s and in CPU per frame (raw CPU ÷ Herald CPU).', '');
      out.push(table(['cell', 'frames/s ratio', 'goal', 'CPU-per-frame ratio', 'goal'], goalRows));
    }
    const recoveryRows: string[][] = [];
    for (const sockets of o.fanoutSizes) {
      for (const t of o.targetings) {
        const on = find(list, 'herald-bun', sockets, t);
        const off = find(list, 'herald-bun-norecovery', sockets, t);
        if (!on || !off) continue;
        recoveryRows.push([
          `${num(sockets)} sockets, ${targetingLabel(t)}`,
          `${num(on.framesPerS / off.framesPerS, 2)} ×`,
          perRunRatios(results.fanout.rows, 'herald-bun', 'herald-bun-norecovery', sockets, t),
          `${num(on.cpuSPerMFrames, 2)} / ${num(off.cpuSPerMFrames, 2)}`,
          `${num(off.cpuSPerMFrames / on.cpuSPerMFrames, 2)} ×`,
          `${num(on.serverRssMiB)} / ${num(off.serverRssMiB)}`,
        ]);
      }
    }
    if (recoveryRows.length > 0) {
      out.push('', 'Recovery (§6) on one pod, local bus: herald-bun (on, the default) ÷ herald-bun-norecovery (HERALD_RECOVERY_WINDOW_S=0).', '');
      out.push(table(['cell', 'frames/s on ÷ off (median)', 'per run', 'CPU-s per M frames (on / off)', 'CPU per frame off ÷ on', 'RSS MiB (on / off)'], recoveryRows));
    }
    const engineRows: string[][] = [];
    for (const [node, bun, recovery] of [
      ['herald-node', 'herald-bun', 'on'],
      ['herald-node-norecovery', 'herald-bun-norecovery', 'off'],
    ] as const) {
      for (const sockets of o.fanoutSizes) {
        for (const t of o.targetings) {
          const n = find(list, node, sockets, t);
          const b = find(list, bun, sockets, t);
          if (!n || !b) continue;
          const speed = n.framesPerS / b.framesPerS;
          engineRows.push([
            `${num(sockets)} sockets, ${targetingLabel(t)}, recovery ${recovery}`,
            `${num(speed, 2)} ×`,
            perRunRatios(results.fanout.rows, node, bun, sockets, t),
            verdict(speed >= 0.8),
            `${num(n.cpuSPerMFrames, 2)} / ${num(b.cpuSPerMFrames, 2)}`,
          ]);
        }
      }
    }
    if (engineRows.length > 0) {
      out.push('', 'Goal: Herald on Node ≥ 0.8 × Herald on Bun in frames/s (the same recovery setting on both).', '');
      out.push(table(['cell', 'frames/s Node ÷ Bun (median)', 'per run', 'goal', 'CPU-s per M frames (Node / Bun)'], engineRows));
    }
    for (const f of results.fanout.failed) out.push('', `Failed: ${f.contender} at ${f.sockets} sockets (run ${f.run}): ${f.error}`);
  }

  if (results.cluster) {
    const list = cells(results.cluster.rows);
    out.push('', '## 2. Two pods and a broker', '', flatTable(list, true), '');
    out.push(
      'Broker CPU is not in "server CPU" (NATS is a private nats-server; RabbitMQ and Redis are the shared ones, whose CPU includes other users).',
    );
    const goalRows: string[][] = [];
    for (const t of o.targetings.filter((x) => x !== 'all')) {
      const sio = find(list, 'socketio-redis', o.clusterSockets, t);
      const cpuGoal = t === 'single' ? 8 : 10;
      for (const id of ['herald-nats', 'herald-nats-recovery', 'herald-nats-http', 'herald-nats-http-recovery', 'herald-amqp', 'herald-amqp-norecovery']) {
        const c = find(list, id, o.clusterSockets, t);
        if (!c) continue;
        // Recovery off is held against one pod with recovery off; everything else against the default (on).
        const one = find(list, id.endsWith('-norecovery') ? 'herald-bun-norecovery' : 'herald-bun', o.clusterSockets, t);
        const speed = one ? c.framesPerS / one.framesPerS : Number.NaN;
        const cpu = sio ? sio.cpuSPerMFrames / c.cpuSPerMFrames : Number.NaN;
        goalRows.push([
          `${c.label}, ${targetingLabel(t)}`,
          `${num(speed, 2)} ×`,
          verdict(one ? speed >= 0.7 : undefined),
          `${num(cpu, 1)} ×`,
          `≥ ${cpuGoal} × ${verdict(sio ? cpu >= cpuGoal : undefined)}`,
        ]);
      }
    }
    out.push('');
    out.push('Goals: deliveries/s ≥ 0.7 × one pod; server CPU per frame ≥ 8 × lower than Socket.IO + Redis with 1 target, ≥ 10 × with 100.', '');
    out.push(table(['contender, event to', 'vs one pod', 'goal', 'Socket.IO CPU ÷ Herald CPU', 'goal'], goalRows));
    const recoveryRows: string[][] = [];
    for (const t of o.targetings.filter((x) => x !== 'all')) {
      const on = find(list, 'herald-nats-recovery', o.clusterSockets, t);
      const off = find(list, 'herald-nats', o.clusterSockets, t);
      if (!on || !off) continue;
      const ratio = on.framesPerS / off.framesPerS;
      const goal = t === 'single' ? 0.8 : 0.9;
      recoveryRows.push([
        targetingLabel(t),
        num(on.framesPerS),
        num(off.framesPerS),
        `${num(ratio, 2)} ×`,
        perRunRatios(results.cluster.rows, 'herald-nats-recovery', 'herald-nats', o.clusterSockets, t),
        `≥ ${goal} × ${verdict(Number.isFinite(ratio) && off.framesPerS > 0 ? ratio >= goal : undefined)}`,
        `${num(on.cpuSPerMFrames, 2)} / ${num(off.cpuSPerMFrames, 2)}`,
        `${num(off.cpuSPerMFrames / on.cpuSPerMFrames, 2)} ×`,
        `${num(on.brokerCpuSPerMFrames, 2)} / ${num(off.brokerCpuSPerMFrames, 2)}`,
        `${num(on.serverRssMiB)} / ${num(off.serverRssMiB)}`,
      ]);
    }
    if (recoveryRows.length > 0) {
      out.push('', 'Recovery (§6) on ÷ off, two Bun pods on NATS, publisher client. Goal: deliveries/s on ≥ 0.8 × off with 1 target per event, ≥ 0.9 × with 100.', '');
      out.push(
        table(
          ['event to', 'on: frames/s', 'off: frames/s', 'on ÷ off (median)', 'per run', 'goal', 'pods CPU-s per M frames (on / off)', 'pods CPU per frame off ÷ on', 'nats-server CPU-s per M frames (on / off)', 'pods RSS MiB (on / off)'],
          recoveryRows,
        ),
      );
    }
    for (const f of results.cluster.failed) out.push('', `Failed: ${f.contender} (run ${f.run}): ${f.error}`);
    for (const w of results.cluster.natsWarnings ?? []) out.push('', `nats-server: ${w}`);
  }

  if (results.latency) {
    const rows = latencyMedians(results.latency.rows);
    const runs = results.latency.runs ?? 1;
    out.push('', `## 3. Latency, emit → client, ${num(results.latency.sockets)} sockets over two pods (µs${runs > 1 ? `, medians of ${runs} runs` : ''})`, '');
    out.push(
      table(
        ['path', 'events/s', 'p50', 'p99', 'p99.9', 'max', 'received', 'publisher lag max (ms)', 'cores: pods / nats-server / publisher / clients / machine'],
        rows.map((r) => [
          r.label,
          num(r.eventsPerSecond),
          num(r.p50),
          num(r.p99),
          num(r.p999),
          num(r.max),
          `${num(r.received)}/${num(r.published)}`,
          num(r.publisherMaxLagMs, 1),
          r.cores
            ? ['pods', 'nats-server', 'publisher', 'clients', 'machine'].map((k) => (r.cores![k] === undefined ? '—' : num(r.cores![k]!, 2))).join(' / ')
            : '—',
        ]),
      ),
    );
    const goalRows: string[][] = [];
    for (const rate of o.latencyRates) {
      const n = rows.find((r) => r.system === 'raw-nats' && r.eventsPerSecond === rate);
      for (const system of ['herald', 'herald-recovery'] as const) {
        const h = rows.find((r) => r.system === system && r.eventsPerSecond === rate);
        if (!h || !n) continue;
        const overhead = (h.p99 - n.p99) / 1000;
        goalRows.push([h.label, num(rate), `${num((h.p50 - n.p50) / 1000, 2)} ms`, `${num(overhead, 2)} ms`, rate === 10_000 ? verdict(overhead <= 1) : '—']);
      }
    }
    out.push('', 'Goal: p99 overhead over bare NATS ≤ 1 ms at 10k events/s.', '');
    out.push(table(['path', 'events/s', 'p50 overhead', 'p99 overhead', 'goal'], goalRows));
    const recoveryRows: string[][] = [];
    for (const rate of o.latencyRates) {
      const on = rows.find((r) => r.system === 'herald-recovery' && r.eventsPerSecond === rate);
      const off = rows.find((r) => r.system === 'herald' && r.eventsPerSecond === rate);
      const n = rows.find((r) => r.system === 'raw-nats' && r.eventsPerSecond === rate);
      if (!on || !off || !n) continue;
      const overOff = (on.p99 - off.p99) / 1000;
      const overNats = (on.p99 - n.p99) / 1000;
      recoveryRows.push([
        num(rate),
        `${num((on.p50 - off.p50) / 1000, 2)} ms`,
        `${num(overOff, 2)} ms`,
        rate === 10_000 ? `≤ 1 ms ${verdict(overOff <= 1)}` : '—',
        `${num(overNats, 2)} ms`,
        rate === 10_000 ? `≤ 2 ms ${verdict(overNats <= 2)}` : '—',
      ]);
    }
    if (recoveryRows.length > 0) {
      out.push('', 'Recovery (§6): what the event log adds to emit → client (on − off), and on over bare NATS.', '');
      out.push(table(['events/s', 'p50 on − off', 'p99 on − off', 'goal', 'p99 on − bare NATS', 'goal'], recoveryRows));
    }
    for (const e of results.latency.errors) out.push('', `Failed: ${e}`);
    for (const w of results.latency.natsWarnings ?? []) out.push('', `nats-server: ${w}`);
  }

  if (results.capacity) {
    out.push('', '## 4. Capacity: idle authenticated sockets on one pod', '');
    out.push(
      table(
        ['pod', 'recovery', 'sockets open', 'client processes', 'connect time (s)', 'RSS before → after (MiB)', 'RSS per socket', 'heap per socket', 'RSS / heap per socket after the idle window', 'goal ≤ 2.6 KiB RSS'],
        results.capacity.map((r) => [
          r.pod,
          r.recovery === undefined ? '—' : r.recovery ? 'on' : 'off',
          `${num(r.opened)} / ${num(r.target)}${r.failed ? ` (${num(r.failed)} failed: ${r.errors[0] ?? ''})` : ''}`,
          num(r.clientProcesses),
          num(r.connectMs / 1000, 1),
          `${num(r.rssBeforeMiB, 1)} → ${num(r.rssAfterMiB, 1)}`,
          `${num(r.rssBytesPerSocket)} B`,
          `${num(r.heapBytesPerSocket)} B`,
          r.rssIdleBytesPerSocket === undefined ? '—' : `${num(r.rssIdleBytesPerSocket)} / ${num(r.heapIdleBytesPerSocket)} B`,
          r.pod === 'raw-bun' ? '(reference)' : verdict(r.rssBytesPerSocket <= CAPACITY_GOAL_BYTES && r.failed === 0),
        ]),
      ),
    );
    out.push('', 'Idle cost with every socket open (protocol pings only; Herald pods ran with HERALD_IDLE_TIMEOUT_S=8, the most pings per second):', '');
    out.push(
      table(
        ['pod', 'recovery', 'idle timeout (s)', 'window (s)', 'pod CPU (cores)', 'still open after'],
        results.capacity.map((r) => [r.pod, r.recovery === undefined ? '—' : r.recovery ? 'on' : 'off', num(r.idleTimeoutS), num(r.idleWindowS, 1), num(r.idleCores, 3), `${num(r.openAfterIdle)} / ${num(r.opened)}`]),
      ),
    );
  }

  if (results.churn) {
    out.push('', '## 5. Churn: connect → authenticate → receive → close', '');
    out.push(
      table(
        ['pod', 'cycles (after warm-up)', 'failed', 'connects/s', 'heap after GC before → after (MiB)', 'RSS before → after (MiB)', 'registries after', 'goal: heap ≤ +2 MiB, registries 0'],
        results.churn.map((r) => {
          const zero = Object.values(r.registriesAfter).every((v) => v === 0);
          return [
            r.pod,
            `${num(r.cycles)} (+${num(r.warmupCycles)})`,
            `${num(r.failed)}${r.errors[0] ? ` (${r.errors[0]})` : ''}`,
            num(r.connectsPerS),
            `${num(r.before.heapUsedMiB, 2)} → ${num(r.after.heapUsedMiB, 2)} (${r.heapDeltaMiB >= 0 ? '+' : ''}${num(r.heapDeltaMiB, 2)})`,
            `${num(r.before.rssMiB, 1)} → ${num(r.after.rssMiB, 1)}`,
            Object.entries(r.registriesAfter).map(([k, v]) => `${k.replace('herald_', '')} ${v}`).join(', '),
            verdict(r.heapDeltaMiB <= 2 && zero),
          ];
        }),
      ),
    );
  }
  if (results.backpressure) {
    out.push('', '## Tuning: HERALD_MAX_BACKPRESSURE with unpaced publishing (events to everyone)', '');
    out.push(
      table(
        ['limit', 'sockets', 'frames/s', 'CPU-s per M', 'server RSS MiB', 'closed 4008', 'delivered'],
        results.backpressure.map((r) => [
          `${num(r.maxBackpressure / 1024)} KiB`,
          num(r.sockets),
          num(r.framesPerS),
          num(r.cpuSPerMFrames, 2),
          num(r.serverRssMiB),
          num(r.closed4008),
          `${num(r.delivered)}/${num(r.expected)}`,
        ]),
      ),
    );
  }
  if (results.resumeStorm) {
    const storm = results.resumeStorm;
    const since = stormMedians(storm.rows, 'since');
    const plain = stormMedians(storm.rows, 'plain');
    const any = since ?? plain;
    if (any) {
      out.push(
        '',
        `## Recovery: resume storm (one Bun pod, local bus, ${num(any.sockets)} sockets from ${any.clientProcesses} client processes, ` +
          `${any.missed} missed events each, ${any.concurrency > 0 ? `${any.concurrency} handshakes in flight per process` : 'all at once'}; medians of ${any.run} run(s))`,
        '',
      );
      const row = (r: ReturnType<typeof stormMedians>) =>
        r
          ? [
              r.mode === 'since' ? `resume with since (${r.missed} replayed each)` : 'reconnect without since (reference)',
              num(r.allDoneMs),
              num(r.listenOverflows),
              `${num(r.doneP50Ms)} / ${num(r.doneP99Ms)}`,
              `${num(r.resumed)} / ${num(r.sockets)}${r.failed ? ` (${num(r.failed)} failed: ${r.errors[0] ?? ''})` : ''}`,
              r.mode === 'since' ? `${num(r.gaps)} / ${num(r.wrongReplayed)}` : '—',
              `${num(r.framesReceived)} / ${num(r.mode === 'since' ? r.sockets * r.missed : 0)}${r.outOfOrder ? `, ${num(r.outOfOrder)} out of order` : ''}`,
              `${num(r.podCpuS, 2)} (${num(r.podCpuNetS ?? Number.NaN, 2)})`,
              num(r.podCores, 2),
              `${num(r.clientCores, 2)} / ${num(r.machineCores, 2)}`,
              `${num(r.liveBefore.p50)} / ${num(r.liveBefore.p99)}`,
              `${num(r.liveDuring.p50)} / ${num(r.liveDuring.p99)} (max ${num(r.liveDuring.max)})`,
            ]
          : [];
      out.push(
        table(
          ['storm', 'all done (ms)', 'accept-queue overflows', 'per socket p50 / p99 (ms)', 'done', 'gap / wrong welcomes', 'frames after welcome / expected', 'pod CPU-s (net of live traffic)', 'pod cores', 'clients / machine cores', `live p50 / p99 before (µs)`, 'live p50 / p99 during (µs)'],
          [row(since), row(plain)].filter((r) => r.length > 0),
        ),
      );
      if (since && plain) {
        out.push(
          '',
          `Replay storm ÷ plain reconnect storm: time ${num(since.allDoneMs / plain.allDoneMs, 2)} ×, pod CPU ${num(since.podCpuS / plain.podCpuS, 2)} × ` +
            `(net of live traffic ${num((since.podCpuNetS ?? Number.NaN) / (plain.podCpuNetS ?? Number.NaN), 2)} ×: ${num(((since.podCpuNetS ?? Number.NaN) / since.sockets) * 1e6)} vs ${num(((plain.podCpuNetS ?? Number.NaN) / plain.sockets) * 1e6)} µs per socket); ` +
            `live p99 during ÷ before: ${num(since.liveDuring.p99 / since.liveBefore.p99, 1)} × (since), ${num(plain.liveDuring.p99 / plain.liveBefore.p99, 1)} × (plain). ` +
            `Live traffic: ${num(any.liveSockets)} sockets, ${num(any.liveRate)} events/s over HTTP.`,
        );
      }
    }
    for (const e of storm.errors) out.push('', `Failed: ${e}`);
  }

  if (results.recoveryMemory) {
    const mem = results.recoveryMemory;
    out.push('', `## Recovery: memory per kept event (one pod, local bus, no sockets, ${num(mem.users)} users; full GC before and after)`, '');
    const on = mem.rows.filter((r) => r.recovery);
    const control = (r: RecoveryMemoryRow) => mem.rows.find((c) => !c.recovery && c.runtime === r.runtime && c.targets === r.targets);
    // What the index holds, less the same with recovery off: on Node the heap plus external (a
    // Buffer's bytes are outside V8's heap); on Bun the heap alone (JSC's heap size already
    // counts a string's characters, which Bun reports as external too).
    const held = (r: RecoveryMemoryRow | undefined) =>
      r ? r.heapBytesPerEvent + (r.runtime === 'node' ? (r.externalBytesPerEvent ?? 0) : 0) : 0;
    const real = (r: RecoveryMemoryRow) => held(r) - held(control(r));
    out.push(
      table(
        ['runtime', 'targets per event', 'events', 'held B/event (Bun: heap; Node: heap + external)', 'RSS B/event', 'held / RSS B/event, recovery off (control)', 'counted B/event (herald_recovery_bytes)', 'frame bytes in the count', 'real ÷ counted (held, on − off)'],
        on.map((r) => [
          r.runtime,
          num(r.targets),
          num(r.events),
          r.runtime === 'node' ? `${num(r.heapBytesPerEvent)} + ${num(r.externalBytesPerEvent ?? 0)}` : num(r.heapBytesPerEvent),
          num(r.rssBytesPerEvent),
          `${num(held(control(r)))} / ${num(control(r)?.rssBytesPerEvent ?? Number.NaN)}`,
          num(r.countedBytesPerEvent),
          num(r.frameBytes),
          `${num(real(r) / r.countedBytesPerEvent, 2)} ×`,
        ]),
      ),
    );
    const fits: string[] = [];
    for (const runtime of [...new Set(on.map((r) => r.runtime))]) {
      const rows = on.filter((r) => r.runtime === runtime);
      const measured = fitPerTarget(rows, real);
      const counted = fitPerTarget(rows, (r) => r.countedBytesPerEvent);
      fits.push(
        `${runtime}: real ≈ ${num(measured.perEvent)} + ${num(measured.perTarget)} × targets bytes per event; counted = ${num(counted.perEvent)} + ${num(counted.perTarget)} × targets`,
      );
    }
    if (fits.length > 0) out.push('', `Least-squares fit over targets per event (held, recovery on − off): ${fits.join('; ')}.`);
    for (const e of mem.errors) out.push('', `Failed: ${e}`);
  }
  for (const e of results.errors) out.push('', `**Scenario failed**: ${e}`);
  return out.join('\n') + '\n';
}
