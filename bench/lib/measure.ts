import type { ClientFleet } from '../load/fleet.js';
import type { FlatCommand, PublishProgress } from '../load/publisher-protocol.js';
import { machineCpuTicks, sampleProcesses } from './proc-stats.js';
import type { WorkerProcess } from './worker-process.js';

export interface FlatOptions {
  fleet: ClientFleet;
  publisher: WorkerProcess;
  command: FlatCommand;
  /** Every process of the contender (its pods); broker processes go in brokerPids. */
  serverPids: number[];
  brokerPids?: number[];
  warmupMs: number;
  measureMs: number;
  /** Deliveries the publisher may run ahead of the clients. */
  window: number;
}

export interface FlatResult {
  /** Frames the clients counted per second in the measured window. */
  framesPerS: number;
  /** Server CPU seconds (user + system, all pods) per million frames delivered in the window. */
  cpuSPerMFrames: number;
  /** Server CPU use in the window, cores. */
  serverCores: number;
  brokerCores: number;
  clientCores: number;
  publisherCores: number;
  /** Whole-machine busy cores in the window (2 = saturated), to see other load on a shared machine. */
  machineCores: number;
  serverRssMiB: number;
  /** Frames counted after the publisher stopped and everything drained, over frames expected. */
  delivered: number;
  expected: number;
  publishErrors: number;
  lastPublishError: string | undefined;
  closes: Record<string, number>;
}

const CONTROL_INTERVAL_MS = 5;
const DRAIN_TIMEOUT_MS = 10_000;

/**
 * One flat-out measurement: the publisher runs ahead of the clients' count by at most `window`
 * deliveries; after the warm-up, counts and /proc readings are taken at both ends of the
 * measured window; then publishing stops and the delivered total is checked against what
 * the accepted requests asked for.
 */
export async function measureFlat(options: FlatOptions): Promise<FlatResult> {
  const { fleet, publisher } = options;
  const base = (await fleet.stats()).events;
  await publisher.request({ cmd: 'reset' });
  await publisher.request({ cmd: 'credit', upTo: options.window });
  await publisher.request({ cmd: 'start-flat', ...options.command }, 120_000);

  let stopControl = false;
  let delivered = 0;
  const control = (async () => {
    while (!stopControl) {
      delivered = (await fleet.stats()).events - base;
      await publisher.request({ cmd: 'credit', upTo: delivered + options.window });
      await new Promise((r) => setTimeout(r, CONTROL_INTERVAL_MS));
    }
  })();

  await sleep(options.warmupMs);
  const t0 = performance.now();
  const events0 = (await fleet.stats()).events;
  const server0 = sampleProcesses(options.serverPids);
  const broker0 = sampleProcesses(options.brokerPids ?? []);
  const client0 = sampleProcesses(options.fleet.pids);
  const pub0 = sampleProcesses([publisher.pid]);
  const machine0 = machineCpuTicks();
  await sleep(options.measureMs);
  const events1 = (await fleet.stats()).events;
  const t1 = performance.now();
  const server1 = sampleProcesses(options.serverPids);
  const broker1 = sampleProcesses(options.brokerPids ?? []);
  const client1 = sampleProcesses(options.fleet.pids);
  const pub1 = sampleProcesses([publisher.pid]);
  const machine1 = machineCpuTicks();

  stopControl = true;
  await control;
  const published: PublishProgress = await publisher.request({ cmd: 'stop' }, 60_000);
  const final = await waitForCount(fleet, base + published.deliveries);
  const seconds = (t1 - t0) / 1000;
  const frames = events1 - events0;
  const serverCpu = server1.cpuS - server0.cpuS;
  return {
    framesPerS: frames / seconds,
    cpuSPerMFrames: frames > 0 ? serverCpu / (frames / 1e6) : Number.NaN,
    serverCores: serverCpu / seconds,
    brokerCores: (broker1.cpuS - broker0.cpuS) / seconds,
    clientCores: (client1.cpuS - client0.cpuS) / seconds,
    publisherCores: (pub1.cpuS - pub0.cpuS) / seconds,
    machineCores: ((machine1.busy - machine0.busy) / (machine1.total - machine0.total)) * 2,
    serverRssMiB: server1.rssBytes / 2 ** 20,
    delivered: final.events - base,
    expected: published.deliveries,
    publishErrors: published.errors,
    lastPublishError: published.lastError,
    closes: final.closes,
  };
}

/** Waits until the clients have counted `target` frames, or their count stops moving. */
async function waitForCount(fleet: ClientFleet, target: number) {
  const deadline = Date.now() + DRAIN_TIMEOUT_MS;
  let last = -1;
  let stillSince = Date.now();
  for (;;) {
    const stats = await fleet.stats();
    if (stats.events >= target || Date.now() > deadline) return stats;
    if (stats.events !== last) {
      last = stats.events;
      stillSince = Date.now();
    } else if (Date.now() - stillSince > 2_000) return stats;
    await sleep(20);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function median(values: number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
