import { defineConfig } from 'vitest/config';

export default defineConfig({
  // `herald/…` resolves to the TypeScript sources, as on Bun, not to the built dist/ that Node
  // consumers get: tests compare classes across both import paths (instanceof). The rest are
  // Vite's default server conditions.
  ssr: { resolve: { conditions: ['bun', 'module', 'node', 'development|production'] } },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Each file starts its own gateway processes; two at a time fits a 2-core machine.
    pool: 'forks',
    maxWorkers: 2,
    // The JSON report lets .ci/run print a plain 'N passed, N failed' closing line.
    reporters: ['default', 'json'],
    outputFile: { json: '.tmp/test-results.json' },
  },
});
