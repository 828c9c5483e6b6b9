import { describe, expect, it } from 'vitest';
import { backoffCap, backoffDelay } from '../../../src/client/backoff.js';

/** mulberry32: a small seeded generator, so the spread of delays is reproducible. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const options = { baseMs: 500, maxMs: 30_000 };

describe('backoff with full jitter', () => {
  it('doubles the cap per attempt from baseMs and never passes maxMs', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 20, 5000].map((a) => backoffCap(a, options))).toEqual([
      500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000, 30_000,
    ]);
  });

  it('spans the whole interval [0, cap): the lowest random gives 0, the highest stays below the cap', () => {
    for (const attempt of [0, 3, 10]) {
      expect(backoffDelay(attempt, options, () => 0)).toBe(0);
      const highest = backoffDelay(attempt, options, () => 0.999_999_9);
      expect(highest).toBeLessThan(backoffCap(attempt, options));
      expect(highest).toBeGreaterThanOrEqual(backoffCap(attempt, options) - 1);
    }
  });

  it('keeps every seeded delay within its bounds and spreads them over the interval', () => {
    const random = seeded(42);
    for (let attempt = 0; attempt < 12; attempt++) {
      const cap = backoffCap(attempt, options);
      const delays = Array.from({ length: 200 }, () => backoffDelay(attempt, options, random));
      expect(Math.min(...delays)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...delays)).toBeLessThan(cap);
      // Full jitter, not "cap/2 + jitter": both the low and the high quarter are used.
      expect(delays.some((d) => d < cap / 4)).toBe(true);
      expect(delays.some((d) => d > (cap * 3) / 4)).toBe(true);
    }
  });

  it('gives the same delays for the same seed', () => {
    const a = seeded(7);
    const b = seeded(7);
    const first = Array.from({ length: 10 }, (_, i) => backoffDelay(i, options, a));
    expect(Array.from({ length: 10 }, (_, i) => backoffDelay(i, options, b))).toEqual(first);
  });
});
