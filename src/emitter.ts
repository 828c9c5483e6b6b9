import type { Revocation } from './auth/revocations.js';
import type { RevocationStore } from './auth/revocation-store.js';
import type { Bus } from './bus/bus.js';
import { BusUnavailableError, InvalidIdError, InvalidRequestError, MessageTooLargeError } from './errors.js';
import { MessageKind, outgoingBytes, outgoingControl, type OutgoingMessage } from './protocol/bus-format.js';
import { ID_RULE, isValidId, type PublishEvent } from './protocol/event.js';
import { prepareEvents } from './protocol/event-encoder.js';

export interface EmitterOptions {
  bus: Bus;
  /** Where revocations are kept for pods started later; none on the local bus. */
  revocationStore?: RevocationStore;
  /** How long a revocation is kept: the longest token lifetime accepted plus the skew (never what a token says). */
  revocationKeepMs: number;
  /** HERALD_JWT_CLOCK_SKEW_S in ms: how far ahead of this clock an `issuedBefore` may be. */
  clockSkewMs: number;
  /** This process's own revocation table, updated before the bus message goes out (a gateway's). */
  revokeLocally?(revocation: Revocation): void;
  /** Counts what went out and what the bus refused (a gateway's metrics). */
  counters?: { published(events: number): void; failed(): void };
}

/** What a disconnect call may say besides whom it disconnects. */
export interface DisconnectOptions {
  /**
   * Epoch seconds by the issuer's clock: tokens issued before it are revoked (default: the
   * call's time by this pod's clock). At most HERALD_JWT_CLOCK_SKEW_S ahead of this clock.
   */
  issuedBefore?: number;
}

/**
 * The one emit path: the gateway's embedded API, the HTTP API and the publisher clients all
 * publish through it. Validates and encodes once; a call resolves once every message is on the
 * bus. BusUnavailableError (or MessageTooLargeError) means nothing was published.
 */
export class Emitter {
  constructor(private readonly options: EmitterOptions) {}

  get bus(): Bus {
    return this.options.bus;
  }

  /** One event or a batch (all or nothing); resolves with their ids in request order. */
  async emit(events: PublishEvent | PublishEvent[] | unknown): Promise<string[]> {
    const { ids, messages } = prepareEvents(events);
    await this.publishAll(messages);
    this.options.counters?.published(messages.length);
    return ids;
  }

  /**
   * Closes every socket of the user on every pod (4003) and revokes the tokens issued before
   * now (or `issuedBefore`), and those a pod saw by now whatever their `iat`.
   */
  disconnectUser(userId: string, options: DisconnectOptions = {}): Promise<void> {
    checkId(userId, 'userId');
    const calledAt = Date.now();
    return this.revoke({ userId, revokedAt: this.revokedAt(options, calledAt), calledAt, user: true });
  }

  /**
   * Logs a session out on every pod: closes its socket (1000) and revokes its tokens issued
   * before now (or `issuedBefore`). With `userId`, that user's session; without, that session id
   * of every user.
   */
  disconnectSession(sessionId: string, options: DisconnectOptions & { userId?: string } = {}): Promise<void> {
    checkId(sessionId, 'sessionId');
    if (options.userId !== undefined) checkId(options.userId, 'userId');
    const calledAt = Date.now();
    return this.revoke({ userId: options.userId, sessionId, revokedAt: this.revokedAt(options, calledAt), calledAt, user: false });
  }

  /**
   * Stores a revocation, applies it here, then publishes it: when the store cannot take it,
   * nothing is published (BusUnavailableError).
   */
  async revoke(revocation: Revocation): Promise<void> {
    if (!this.options.bus.up) {
      // A store beside a broker that is down (or frozen) would fail or hang: answer at once.
      this.options.counters?.failed();
      throw new BusUnavailableError();
    }
    if (this.options.revocationStore) {
      try {
        await this.options.revocationStore.record(revocation, this.options.revocationKeepMs);
      } catch (error) {
        this.options.counters?.failed();
        throw error;
      }
    }
    this.options.revokeLocally?.(revocation);
    const { userId, sessionId, revokedAt, calledAt, user } = revocation;
    const message =
      sessionId === undefined
        ? outgoingControl(MessageKind.DisconnectUser, { userId: userId!, revokedAt, calledAt })
        : outgoingControl(MessageKind.DisconnectSession, { sessionId, userId, revokedAt, calledAt, ...(user ? { user } : {}) });
    await this.publishAll([message]);
  }

  private revokedAt(options: DisconnectOptions, calledAt: number): number {
    const { issuedBefore } = options;
    if (issuedBefore === undefined) return calledAt;
    const latest = (calledAt + this.options.clockSkewMs) / 1000;
    if (typeof issuedBefore !== 'number' || !Number.isFinite(issuedBefore) || issuedBefore < 0 || issuedBefore > latest) {
      throw new InvalidRequestError(
        `issuedBefore must be epoch seconds, at most ${this.options.clockSkewMs / 1000} s ahead of this server's clock (now ${Math.floor(calledAt / 1000)})`,
      );
    }
    return issuedBefore * 1000;
  }

  /**
   * One request's messages in order, all or nothing as far as this process can tell: nothing
   * goes out while the bus is down or when any message is over the broker's limit.
   */
  private async publishAll(messages: OutgoingMessage[]): Promise<void> {
    try {
      await publishAll(this.options.bus, messages);
    } catch (error) {
      this.options.counters?.failed();
      throw error;
    }
  }
}

export async function publishAll(bus: Bus, messages: OutgoingMessage[]): Promise<void> {
  if (!bus.up) throw new BusUnavailableError();
  const limit = bus.maxMessageBytes;
  if (limit !== undefined) {
    for (const msg of messages) {
      // Encoded here once; the bus sends the same bytes.
      const size = outgoingBytes(msg).length;
      if (size > limit) {
        throw new MessageTooLargeError(`an event of ${size} bytes on the bus is over the broker's limit of ${limit}`);
      }
    }
  }
  try {
    await bus.publishBatch(messages);
  } catch (error) {
    if (error instanceof BusUnavailableError || error instanceof MessageTooLargeError) throw error;
    throw new BusUnavailableError('publish failed', { cause: error });
  }
}

/** The one id rule for disconnects, as for `sub`, `sid` and `targetUsers`. */
function checkId(id: unknown, what: string): asserts id is string {
  if (!isValidId(id)) throw new InvalidIdError(`${what} must be ${ID_RULE}`);
}
