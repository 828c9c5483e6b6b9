/**
 * Preloaded into a gateway process by the churn scenario (bun --preload / node --import):
 * on SIGUSR2 it collects garbage fully and writes one JSON line with the memory figures, so
 * "heap after GC" is measured without a debug endpoint in the product. With
 * BENCH_HEAP_SNAPSHOT_DIR set, SIGWINCH writes a V8-format heap snapshot there after a full GC
 * (bench/heap-census.ts counts what each socket holds from two of them); apart from the memory
 * reading, whose RSS the snapshot's own garbage would swell.
 */
import { writeFileSync } from 'node:fs';
import { writeHeapSnapshot } from 'node:v8';

declare const Bun: { gc(force: boolean): void; generateHeapSnapshot(format: 'v8'): string } | undefined;

function collect(): void {
  if (typeof Bun !== 'undefined') Bun.gc(true);
  else (globalThis as { gc?: () => void }).gc?.();
}

const snapshotDir = process.env.BENCH_HEAP_SNAPSHOT_DIR;
let snapshots = 0;

function snapshot(): string {
  const path = `${snapshotDir}/${process.pid}-${++snapshots}.heapsnapshot`;
  if (typeof Bun !== 'undefined') writeFileSync(path, Bun.generateHeapSnapshot('v8'));
  else writeHeapSnapshot(path);
  return path;
}

process.on('SIGUSR2', () => {
  // Twice: finalizers freed by the first pass can release more on the second.
  collect();
  collect();
  const memory = process.memoryUsage();
  process.stdout.write(
    JSON.stringify({ msg: 'bench.memory', heapUsed: memory.heapUsed, heapTotal: memory.heapTotal, rss: memory.rss, external: memory.external }) + '\n',
  );
});

if (snapshotDir) {
  process.on('SIGWINCH', () => {
    collect();
    collect();
    process.stdout.write(JSON.stringify({ msg: 'bench.heap-snapshot', path: snapshot() }) + '\n');
  });
}
