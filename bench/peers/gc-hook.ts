/**
 * Preloaded into a gateway process by the churn scenario (bun --preload / node --import):
 * on SIGUSR2 it collects garbage fully and writes one JSON line with the memory figures, so
 * "heap after GC" is measured without a debug endpoint in the product.
 */
declare const Bun: { gc(force: boolean): void } | undefined;

function collect(): void {
  if (typeof Bun !== 'undefined') Bun.gc(true);
  else (globalThis as { gc?: () => void }).gc?.();
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
