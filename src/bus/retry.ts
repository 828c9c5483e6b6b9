/** How a broker-backed store keeps trying while its broker is away. */
export interface RetryOptions {
  retryMs: number;
  /** True once the owner is closed: no further attempt starts. */
  stopped(): boolean;
  /** Each failure, with its attempt number (logged by the caller, which names the broker). */
  onFailure(error: unknown, attempt: number): void;
}

/** Runs `attempt` until it succeeds or the owner stops, waiting `retryMs` after each failure. */
export async function retryUntilDone(attempt: () => Promise<void>, options: RetryOptions): Promise<void> {
  for (let n = 1; !options.stopped(); n++) {
    try {
      await attempt();
      return;
    } catch (error) {
      options.onFailure(error, n);
      await sleep(options.retryMs);
    }
  }
}

/** Starts `again` after `retryMs` unless the owner stopped meanwhile: a follower that ended restarts. */
export function restartLater(again: () => Promise<void>, options: Pick<RetryOptions, 'retryMs' | 'stopped'>): void {
  void sleep(options.retryMs).then(() => (options.stopped() ? undefined : again()));
}

/** A timer that never keeps the process alive. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref?.());
}
