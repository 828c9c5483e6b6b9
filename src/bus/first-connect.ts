import { BrokerAuthenticationError, BusUnavailableError } from '../errors.js';
import type { Logger } from '../log.js';
import { sleep } from './retry.js';

/** Delays between attempts: full jitter over an exponential ceiling, initialMs·2^attempt capped at maxMs. */
export interface Backoff {
  initialMs: number;
  maxMs: number;
}

export function backoffDelay(backoff: Backoff, attempt: number): number {
  const ceiling = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(attempt, 30));
  return Math.floor(Math.random() * ceiling);
}

export interface FirstConnectOptions<T> {
  /** One connection attempt. */
  attempt(): Promise<T>;
  /** The attempt's failure as the operator should read it: BrokerAuthenticationError or BusUnavailableError. */
  classify(error: unknown): BusUnavailableError;
  /** A pod keeps trying while the broker is away; a publisher rejects at the first failure. */
  waitForBroker: boolean;
  backoff: Backoff;
  /** True once the bus is closed: no further attempt starts. */
  stopped(): boolean;
  log: Logger;
}

/**
 * Connects to a broker. With `waitForBroker` an unreachable broker (or one that refuses the
 * credentials) is not fatal: every failed attempt is logged — refused credentials apart from
 * an unreachable broker — and the next one follows after a backoff delay, until one succeeds
 * or the bus is closed. Without it the first failure rejects, typed.
 */
export async function connectUntilUp<T>(options: FirstConnectOptions<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    if (options.stopped()) throw new BusUnavailableError('the bus was closed before it connected');
    try {
      return await options.attempt();
    } catch (error) {
      const failure = options.classify(error);
      if (!options.waitForBroker) throw failure;
      const retryInMs = backoffDelay(options.backoff, attempt);
      logBrokerFailure(options.log, failure, { attempt: attempt + 1, retryInMs });
      await sleep(retryInMs);
    }
  }
}

/** One line per failed attempt; `reason` tells refused credentials from an unreachable broker. */
export function logBrokerFailure(log: Logger, failure: BusUnavailableError, fields: Record<string, unknown>): void {
  const reason = failure instanceof BrokerAuthenticationError ? 'authentication_refused' : 'unavailable';
  log.error({ err: failure.cause ?? failure, reason, ...fields }, `${failure.message}; not ready, retrying`);
}
