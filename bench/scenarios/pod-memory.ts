import { BUN, heraldEnv, PEER_BUILD, ROOT, startHeraldPod } from '../contenders.js';
import { ServerProcess } from '../lib/server-process.js';
import { sampleProcess } from '../lib/proc-stats.js';

export type PodKind = 'herald-bun' | 'herald-node' | 'raw-bun';

/** A server started with the GC hook preloaded (bench/peers/gc-hook.ts), so memory can be read after a full GC. */
export async function startInspectablePod(kind: PodKind, extraEnv: Record<string, string> = {}): Promise<ServerProcess> {
  if (kind === 'raw-bun') {
    return ServerProcess.start('raw-bun', BUN, ['--preload', `${ROOT}bench/peers/gc-hook.ts`, `${ROOT}bench/peers/raw-bun.ts`], {});
  }
  const runtime = kind === 'herald-bun' ? 'bun' : 'node';
  const preload = runtime === 'bun' ? `${ROOT}bench/peers/gc-hook.ts` : `${PEER_BUILD}/gc-hook.js`;
  return startHeraldPod(runtime, heraldEnv({ extra: extraEnv }), kind, preload);
}

export interface MemoryReading {
  heapUsedMiB: number;
  rssMiB: number;
  /** Memory outside the JS heap that the runtime accounts for (Node: Buffers' bytes; Bun reports 0). */
  externalMiB: number;
}

/** Full GC in the pod, then its heap (as the runtime reports it) and RSS from /proc. */
export async function memoryAfterGc(pod: ServerProcess): Promise<MemoryReading> {
  const line = pod.waitFor((l) => l.msg === 'bench.memory', 120_000);
  pod.signal('SIGUSR2');
  const reading = await line;
  const rss = sampleProcess(pod.pid)?.rssBytes ?? Number(reading.rss);
  return { heapUsedMiB: Number(reading.heapUsed) / 2 ** 20, rssMiB: rss / 2 ** 20, externalMiB: Number(reading.external ?? 0) / 2 ** 20 };
}

/** A pod started with BENCH_HEAP_SNAPSHOT_DIR writes a heap snapshot after a full GC; resolves to its path. */
export async function heapSnapshot(pod: ServerProcess): Promise<string> {
  const line = pod.waitFor((l) => l.msg === 'bench.heap-snapshot', 120_000);
  pod.signal('SIGWINCH');
  return String((await line).path);
}

/** Herald's registry gauges from /metrics (0 for a peer without them). */
export function registries(pod: ServerProcess): Promise<Record<string, number>> {
  return metricValues(pod, ['herald_connections', 'herald_user_topics', 'herald_token_expiry_entries']);
}

/** Unlabelled metrics from a Herald pod's /metrics, by name (NaN when absent). */
export async function metricValues(pod: ServerProcess, names: string[]): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${pod.port}/metrics`)).text();
  const values: Record<string, number> = {};
  for (const name of names) {
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    values[name] = line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : Number.NaN;
  }
  return values;
}
