import type { Logger } from '../log.js';

/** Between attempts while a broker is away, unless a store is given its own. */
export const DEFAULT_RETRY_MS = 2_000;

/** How a broker-backed store keeps trying while its broker is away. */
export interface RetryOptions {
  retryMs?: number;
  /** True once the owner is closed: no further attempt starts. */
  stopped(): boolean;
  log: Logger;
  /** Logged with every line: what is being loaded, and from where. */
  context: Record<string, unknown>;
  /** Logged at error level after each failure, with its attempt number. */
  failure: string;
  /** Resolve after the first attempt whatever came of it, and keep trying in the background. */
  firstAttemptOnly?: boolean;
}

/**
 * Runs `attempt` until it succeeds or the owner stops, waiting `retryMs` after each failure;
 * logs each failure, and what the attempt returns once it succeeds.
 */
export async function retryUntilDone(
  attempt: () => Promise<Record<string, unknown>>,
  success: string,
  options: RetryOptions,
): Promise<void> {
  const { log, context } = options;
  const tryOnce = async (n: number): Promise<boolean> => {
    try {
      log.info({ ...context, ...(await attempt()) }, success);
      return true;
    } catch (error) {
      log.error({ ...context, err: error, attempt: n }, options.failure);
      return false;
    }
  };
  const keepTrying = async (from: number): Promise<void> => {
    for (let n = from; !options.stopped(); n++) {
      await sleep(options.retryMs ?? DEFAULT_RETRY_MS);
      if (!options.stopped() && (await tryOnce(n))) return;
    }
  };
  if (options.stopped() || (await tryOnce(1))) return;
  if (options.firstAttemptOnly) void keepTrying(2);
  else await keepTrying(2);
}

/** Starts `again` after `retryMs` unless the owner stopped meanwhile: a follower that ended restarts. */
export function restartLater(again: () => Promise<void>, options: Pick<RetryOptions, 'retryMs' | 'stopped'>): void {
  void sleep(options.retryMs ?? DEFAULT_RETRY_MS).then(() => (options.stopped() ? undefined : again()));
}

/** A timer that never keeps the process alive. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref?.());
}
