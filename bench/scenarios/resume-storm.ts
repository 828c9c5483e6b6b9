import type { Histogram } from 'hdr-histogram-js';
import { BUN, heraldEnv, JWT_SECRET, ROOT, startHeraldPod, PUBLISH_TOKEN } from '../contenders.js';
import { ClientFleet } from '../load/fleet.js';
import type { PublishProgress } from '../load/publisher-protocol.js';
import { publishBulk } from '../lib/bulk-publish.js';
import { median, sleep } from '../lib/measure.js';
import type { BenchOptions } from '../lib/options.js';
import { listenOverflows, machineCpuTicks, sampleProcess, sampleProcesses } from '../lib/proc-stats.js';
import { WorkerProcess } from '../lib/worker-process.js';
import { say } from './common.js';
import { metricValues } from './pod-memory.js';

/** Sockets per client process of the storm (capacity's figure: well under 20,000 open files). */
const STORM_SOCKETS_PER_PROCESS = 5_000;
const REPLAY_TIMEOUT_MS = 120_000;
/** Keep-alive connections of the live publisher, opened before the storm (a new one would wait in the flooded accept queue). */
const LIVE_CONNECTIONS = 4;

export interface LatencySummary {
  p50: number;
  p99: number;
  max: number;
  count: number;
}

export interface StormRow {
  /** `since`: every socket resumes with since=<epoch>:<last seq> and gets its missed events; `plain`: it reconnects without since (the reference). */
  mode: 'since' | 'plain';
  run: number;
  sockets: number;
  /** Events each storm socket missed while it was away. */
  missed: number;
  clientProcesses: number;
  /** Handshakes in flight at once per client process (0: all). */
  concurrency: number;
  resumed: number;
  failed: number;
  errors: string[];
  /** From the first reconnect to the last socket done (welcome + every missed event), ms. */
  allDoneMs: number;
  doneP50Ms: number;
  doneP99Ms: number;
  /** Welcomes with gap:true; mode since: welcomes other than gap:false, replayed:<missed>. */
  gaps: number;
  wrongReplayed: number;
  /** Event frames the storm sockets got after their welcomes; mode since expects sockets × missed. */
  framesReceived: number;
  outOfOrder: number;
  noSeq: number;
  /** The pod's CPU over the storm. */
  podCpuS: number;
  /** The pod's CPU with live traffic only, in the quiet window before the storm (cores). */
  quietCores?: number;
  /** The storm's own CPU: podCpuS less quietCores over the storm's duration. */
  podCpuNetS?: number;
  podCores: number;
  podRssMiB: number;
  /** herald_recovery_replayed_total and herald_recovery_gaps_total over the storm. */
  replayedMetric: number;
  gapsMetric: number;
  /** Emit → client latency to the other sockets: in a quiet window before the storm, and during it (µs). */
  liveBefore: LatencySummary;
  liveDuring: LatencySummary;
  liveRate: number;
  liveSockets: number;
  /** The storm's client processes, and the whole machine, over the storm (cores; 2 = the machine saturated). */
  clientCores: number;
  machineCores: number;
  /** Handshakes the kernel dropped because the pod's accept queue (512) was full, over the storm (TcpExt ListenOverflows). */
  listenOverflows: number;
  /** Everything the live publisher sent and the live sockets got over the whole run. */
  livePublished: number;
  liveReceived: number;
}

export interface StormResult {
  rows: StormRow[];
  errors: string[];
}

function summarize(h: Histogram): LatencySummary {
  return { p50: h.getValueAtPercentile(50), p99: h.getValueAtPercentile(99), max: h.maxValue, count: h.totalCount };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(50);
  }
}

/**
 * One storm on a fresh pod (one Bun pod, local bus, recovery on with its defaults): the storm
 * sockets open and each gets one event (so it holds a seq), they all drop at once (TCP cut),
 * every storm user misses `missed` events (1 target each, interleaved over the users), then
 * every socket comes back at once — with `since` (mode since) or without (plain). Meanwhile a
 * fixed-rate publisher sends timestamped events to the live sockets, in a process of their own.
 */
async function storm(mode: StormRow['mode'], run: number, options: BenchOptions): Promise<StormRow> {
  const { stormSockets: sockets, stormMissed: missed, stormLiveSockets: liveSockets, stormLiveRate: liveRate } = options;
  const clientProcesses = Math.max(1, Math.ceil(sockets / STORM_SOCKETS_PER_PROCESS));
  const pod = await startHeraldPod('bun', heraldEnv(), `storm-${mode}`);
  const fleet = ClientFleet.start(clientProcesses);
  const live = ClientFleet.start(1);
  const publisher = WorkerProcess.start('live-publisher', BUN, [`${ROOT}bench/load/publisher-worker.ts`]);
  const stormUser = (i: number) => `u${i}`;
  let rate: Promise<PublishProgress> | undefined;
  try {
    const liveOpened = await live.connect({
      protocol: 'herald',
      jwtSecret: JWT_SECRET,
      latency: true,
      targets: [{ port: pod.port, from: sockets, to: sockets + liveSockets }],
    });
    const opened = await fleet.connect({
      protocol: 'herald',
      jwtSecret: JWT_SECRET,
      track: true,
      targets: [{ port: pod.port, from: 0, to: sockets }],
      concurrency: 100,
    });
    if (opened.failed > 0 || liveOpened.failed > 0) {
      throw new Error(`${opened.failed + liveOpened.failed} sockets failed to open: ${[...opened.errors, ...liveOpened.errors].join('; ')}`);
    }
    // One event each, so that every socket resumes from an event's seq, not its welcome's.
    await publishBulk(pod.port, sockets, (i) => [stormUser(i)]);
    await waitUntil('first events', async () => (await fleet.stats()).events >= sockets, 30_000);
    const dropped = await fleet.drop();
    await waitUntil(
      'the pod closing the dropped sockets',
      async () => (await metricValues(pod, ['herald_connections'])).herald_connections === liveSockets,
      30_000,
    );
    // What they miss: `missed` events per storm user, one target each, interleaved.
    const bulk = await publishBulk(pod.port, sockets * missed, (i) => [stormUser(i % sockets)]);
    say(`storm ${mode} run ${run}: ${dropped} sockets dropped; ${sockets * missed} events published in ${bulk.ms.toFixed(0)} ms`);

    // Live traffic to the other sockets for the rest of the run; a quiet window first.
    await publisher.request({ cmd: 'reset' });
    const liveBase = (await live.stats()).events;
    rate = publisher.request<PublishProgress>(
      {
        cmd: 'rate',
        transport: { kind: 'http', url: `http://127.0.0.1:${pod.port}/v1/events`, token: PUBLISH_TOKEN, connections: LIVE_CONNECTIONS },
        from: sockets,
        to: sockets + liveSockets,
        eventsPerSecond: liveRate,
        durationMs: 600_000,
      },
      700_000,
    );
    await sleep(1_000);
    await live.latency();
    const quiet0 = sampleProcess(pod.pid);
    const quietStart = performance.now();
    await sleep(3_000);
    const quiet1 = sampleProcess(pod.pid);
    const liveBefore = summarize(await live.latency());
    // What the live traffic alone costs the pod, to take out of the storm's CPU.
    const quietCores = quiet0 && quiet1 ? (quiet1.cpuS - quiet0.cpuS) / ((performance.now() - quietStart) / 1000) : Number.NaN;

    const metrics0 = await metricValues(pod, ['herald_recovery_replayed_total', 'herald_recovery_gaps_total']);
    const cpu0 = sampleProcess(pod.pid);
    const clients0 = sampleProcesses(fleet.pids);
    const machine0 = machineCpuTicks();
    const overflows0 = listenOverflows();
    const t0 = performance.now();
    const result = await fleet.resume({ mode, expected: mode === 'since' ? missed : 0, concurrency: options.stormConcurrency, timeoutMs: REPLAY_TIMEOUT_MS });
    const allDoneMs = performance.now() - t0;
    const cpu1 = sampleProcess(pod.pid);
    const clients1 = sampleProcesses(fleet.pids);
    const machine1 = machineCpuTicks();
    const overflows1 = listenOverflows();
    const metrics1 = await metricValues(pod, ['herald_recovery_replayed_total', 'herald_recovery_gaps_total']);
    // The live events sent up to the storm's end, all of them delivered (however late), make "during".
    await publisher.request({ cmd: 'stop-rate' });
    const published = await rate;
    rate = undefined;
    const liveTarget = liveBase + published.events;
    await waitUntil('live stragglers', async () => (await live.stats()).events >= liveTarget, 30_000).catch((error: Error) => say(error.message));
    const liveDuring = summarize(await live.latency());
    const liveStats = await live.stats();
    // What the storm sockets got in all, stragglers included (a double replay would show).
    await sleep(500);
    const stormFrames = (await fleet.stats()).events - sockets;
    const doneSorted = [...result.doneMs].sort((a, b) => a - b);
    const podCpuS = cpu0 && cpu1 ? cpu1.cpuS - cpu0.cpuS : Number.NaN;
    const row: StormRow = {
      mode,
      run,
      sockets,
      missed,
      clientProcesses,
      concurrency: options.stormConcurrency,
      resumed: result.resumed,
      failed: result.failed,
      errors: result.errors,
      allDoneMs,
      doneP50Ms: percentile(doneSorted, 50),
      doneP99Ms: percentile(doneSorted, 99),
      gaps: result.gaps,
      wrongReplayed: result.wrongReplayed,
      framesReceived: stormFrames,
      outOfOrder: result.outOfOrder,
      noSeq: result.noSeq,
      podCpuS,
      podCores: podCpuS / (allDoneMs / 1000),
      quietCores,
      podCpuNetS: podCpuS - quietCores * (allDoneMs / 1000),
      podRssMiB: (cpu1?.rssBytes ?? Number.NaN) / 2 ** 20,
      replayedMetric: metrics1.herald_recovery_replayed_total! - metrics0.herald_recovery_replayed_total!,
      gapsMetric: metrics1.herald_recovery_gaps_total! - metrics0.herald_recovery_gaps_total!,
      liveBefore,
      liveDuring,
      liveRate,
      liveSockets,
      livePublished: published.events,
      liveReceived: liveStats.events - liveBase,
      clientCores: (clients1.cpuS - clients0.cpuS) / (allDoneMs / 1000),
      listenOverflows: overflows1 - overflows0,
      machineCores: ((machine1.busy - machine0.busy) / (machine1.total - machine0.total)) * 2,
    };
    say(
      `storm ${mode} run ${run}: ${row.resumed}/${sockets} done in ${allDoneMs.toFixed(0)} ms (p50 ${row.doneP50Ms} ms, p99 ${row.doneP99Ms} ms), ` +
        `${row.failed} failed${row.errors[0] ? ` (${row.errors[0]})` : ''}, gaps ${row.gaps}, wrong ${row.wrongReplayed}, frames ${stormFrames}, ` +
        `out of order ${row.outOfOrder}, ${row.listenOverflows} listen-queue overflows; pod ${podCpuS.toFixed(2)} CPU-s (${row.podCores.toFixed(2)} cores; ` +
        `${row.podCpuNetS!.toFixed(2)} net of the ${quietCores.toFixed(2)} cores live traffic took before); ` +
        `live p50/p99 ${liveBefore.p50}/${liveBefore.p99} µs before, ${liveDuring.p50}/${liveDuring.p99} µs during; ` +
        `clients ${row.clientCores.toFixed(2)} cores, machine ${row.machineCores.toFixed(2)}; live ${row.liveReceived}/${published.events}${published.errors ? `, ${published.errors} publish errors (${published.lastError})` : ''}`,
    );
    return row;
  } finally {
    if (rate) {
      await publisher.request({ cmd: 'stop-rate' }).catch(() => undefined);
      await rate.catch(() => undefined);
    }
    await Promise.all([fleet.stop(), live.stop(), publisher.stop()]);
    await pod.stop();
  }
}

/**
 * Recovery (§6): a resume storm. Each run storms a fresh pod twice, with `since` (every socket
 * replays what it missed) and without (plain reconnects: the reference), the order alternating.
 */
export async function runResumeStorm(options: BenchOptions): Promise<StormResult> {
  const rows: StormRow[] = [];
  const errors: string[] = [];
  const modes: StormRow['mode'][] = ['since', 'plain'];
  for (let run = 0; run < options.runs; run++) {
    for (const mode of run % 2 === 0 ? modes : [...modes].reverse()) {
      try {
        rows.push(await storm(mode, run, options));
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        say(`storm ${mode} run ${run} FAILED ${message}`);
        errors.push(`${mode} (run ${run}): ${message}`);
      }
    }
  }
  return { rows, errors };
}

/** Medians over the runs of one mode. */
export function stormMedians(rows: StormRow[], mode: StormRow['mode']): StormRow | undefined {
  const g = rows.filter((r) => r.mode === mode);
  if (g.length === 0) return undefined;
  const m = (pick: (r: StormRow) => number) => median(g.map(pick));
  const lat = (pick: (r: StormRow) => LatencySummary): LatencySummary => ({
    p50: m((r) => pick(r).p50),
    p99: m((r) => pick(r).p99),
    max: Math.max(...g.map((r) => pick(r).max)),
    count: g.reduce((a, r) => a + pick(r).count, 0),
  });
  return {
    ...g[0]!,
    run: g.length,
    resumed: Math.min(...g.map((r) => r.resumed)),
    failed: Math.max(...g.map((r) => r.failed)),
    errors: g.flatMap((r) => r.errors).slice(0, 3),
    allDoneMs: m((r) => r.allDoneMs),
    doneP50Ms: m((r) => r.doneP50Ms),
    doneP99Ms: m((r) => r.doneP99Ms),
    gaps: Math.max(...g.map((r) => r.gaps)),
    wrongReplayed: Math.max(...g.map((r) => r.wrongReplayed)),
    framesReceived: m((r) => r.framesReceived),
    outOfOrder: Math.max(...g.map((r) => r.outOfOrder)),
    noSeq: Math.max(...g.map((r) => r.noSeq)),
    podCpuS: m((r) => r.podCpuS),
    quietCores: m((r) => r.quietCores ?? Number.NaN),
    podCpuNetS: m((r) => r.podCpuNetS ?? Number.NaN),
    podCores: m((r) => r.podCores),
    podRssMiB: m((r) => r.podRssMiB),
    clientCores: m((r) => r.clientCores),
    machineCores: m((r) => r.machineCores),
    listenOverflows: m((r) => r.listenOverflows),
    replayedMetric: m((r) => r.replayedMetric),
    gapsMetric: m((r) => r.gapsMetric),
    liveBefore: lat((r) => r.liveBefore),
    liveDuring: lat((r) => r.liveDuring),
    livePublished: g.reduce((a, r) => a + r.livePublished, 0),
    liveReceived: g.reduce((a, r) => a + r.liveReceived, 0),
  };
}
