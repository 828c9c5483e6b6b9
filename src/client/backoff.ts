/** How long to wait before a reconnect attempt: exponential growth, capped, with full jitter. */
export interface BackoffOptions {
  /** The cap of the first attempt's delay. */
  baseMs: number;
  /** No delay is ever longer than this. */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 500, maxMs: 30_000 };

/**
 * Full jitter (AWS Architecture Blog, "Exponential Backoff and Jitter"): a uniform delay in
 * [0, min(maxMs, baseMs · 2^attempt)). Spreading the whole interval, not only its tail, is what
 * keeps a pod restart from turning every client into one reconnect wave.
 * `attempt` counts from 0; `random` returns a number in [0, 1) like Math.random.
 */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  return Math.floor(random() * backoffCap(attempt, options));
}

/** The exclusive upper bound of `backoffDelay` for this attempt. */
export function backoffCap(attempt: number, options: BackoffOptions): number {
  const { baseMs, maxMs } = options;
  // 2^attempt overflows to Infinity past ~1023 attempts; min() keeps the cap finite.
  return Math.max(1, Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt)));
}
