import {
  DEFAULT_CLOCK_SKEW_S,
  DEFAULT_MAX_TOKEN_LIFETIME_S,
  MAX_JWT_CLOCK_SKEW_S,
  MAX_JWT_MAX_LIFETIME_S,
  Revocations,
} from '../auth/revocations.js';
import type { RevocationStore } from '../auth/revocation-store.js';
import type { Bus } from '../bus/bus.js';
import { Emitter, type DisconnectOptions } from '../emitter.js';
import type { PublishEvent } from '../protocol/event.js';

export interface HeraldPublisherOptions {
  /** Where revocations are kept for pods started later (the broker factories pass theirs). */
  revocationStore?: RevocationStore;
  /** The gateways' HERALD_JWT_MAX_LIFETIME_S in ms: with the skew, how long a revocation is kept. Default 30 days, as theirs. */
  maxTokenLifetimeMs?: number;
  /** The gateways' HERALD_JWT_CLOCK_SKEW_S in ms. Default 30 s, as theirs. */
  clockSkewMs?: number;
}

/**
 * Emits onto the bus without a gateway and without an HTTP hop, for backend services.
 * Same validation and encoding as `POST /v1/events` (all or nothing; InvalidEventError with
 * the same details), same guarantees: once a call resolves the messages are on the bus;
 * BusUnavailableError means nothing was published. Works over any started Bus.
 */
export class HeraldPublisher {
  private readonly emitter: Emitter;
  private readonly revocationStore: RevocationStore | undefined;

  constructor(
    private readonly bus: Bus,
    options: HeraldPublisherOptions = {},
  ) {
    this.revocationStore = options.revocationStore;
    const maxTokenLifetimeMs = options.maxTokenLifetimeMs ?? DEFAULT_MAX_TOKEN_LIFETIME_S * 1000;
    const clockSkewMs = options.clockSkewMs ?? DEFAULT_CLOCK_SKEW_S * 1000;
    if (!(maxTokenLifetimeMs > 0 && maxTokenLifetimeMs <= MAX_JWT_MAX_LIFETIME_S * 1000)) {
      throw new RangeError(`maxTokenLifetimeMs must be above 0 and at most ${MAX_JWT_MAX_LIFETIME_S * 1000} (a year)`);
    }
    if (!(clockSkewMs >= 0 && clockSkewMs <= MAX_JWT_CLOCK_SKEW_S * 1000)) {
      throw new RangeError(`clockSkewMs must be 0–${MAX_JWT_CLOCK_SKEW_S * 1000}`);
    }
    const keepMs = new Revocations({ maxTokenLifetimeMs, clockSkewMs }).keepMs;
    this.emitter = new Emitter({ bus, revocationStore: options.revocationStore, revocationKeepMs: keepMs, clockSkewMs });
  }

  /** False while the broker is unreachable: calls then reject with BusUnavailableError. */
  get up(): boolean {
    return this.bus.up;
  }

  onStatus(listener: (up: boolean) => void): void {
    this.bus.onStatus(listener);
  }

  /** One event or a batch of up to 1000; resolves with their ids in order. */
  emit(events: PublishEvent | PublishEvent[]): Promise<string[]> {
    return this.emitter.emit(events);
  }

  /**
   * Closes every socket of the user on every pod (4003) and revokes the tokens issued before
   * now, or before `issuedBefore` (epoch seconds by your clock: pass the instant of the password
   * reset, so that a login right after it connects at once).
   */
  disconnectUser(userId: string, options?: DisconnectOptions): Promise<void> {
    return this.emitter.disconnectUser(userId, options);
  }

  /**
   * Logs a session out on every pod: closes its socket (1000) and revokes its tokens issued
   * before now (or `issuedBefore`). With `userId` that user's session; without, that session id
   * of every user (for issuers whose session ids are unique).
   */
  disconnectSession(sessionId: string, options?: DisconnectOptions & { userId?: string }): Promise<void> {
    return this.emitter.disconnectSession(sessionId, options);
  }

  async close(): Promise<void> {
    await this.revocationStore?.close();
    await this.bus.close();
  }
}
