import type { RevocationStore } from './auth/revocation-store.js';
import type { Bus } from './bus/bus.js';
import { BusUnavailableError, InvalidIdError, MessageTooLargeError } from './errors.js';
import { encodeBusMessage, MessageKind } from './protocol/bus-format.js';
import { IdString, type PublishEvent } from './protocol/event.js';
import { encodeEvents } from './protocol/event-encoder.js';

export interface EmitterOptions {
  bus: Bus;
  /** Where user revocations are kept for pods started later; none on the local bus. */
  revocationStore?: RevocationStore;
  /** How long a revocation made now must be kept (the longest token lifetime known). */
  revocationKeepMs(): number;
  /** This process's own revocation table, updated before the bus message goes out (a gateway's). */
  revokeLocally?(userId: string, revokedAtMs: number): void;
  /** Counts what went out and what the bus refused (a gateway's metrics). */
  counters?: { published(events: number): void; failed(): void };
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
    const { ids, messages } = encodeEvents(events);
    await this.publishAll(messages);
    this.options.counters?.published(messages.length);
    return ids;
  }

  /**
   * Closes every socket of the user on every pod (4003) and revokes the tokens issued before now.
   * The revocation is stored first: when the store cannot take it, nothing is published.
   */
  async disconnectUser(userId: string): Promise<void> {
    checkId(userId, 'userId');
    const revokedAt = Date.now();
    if (!this.options.bus.up) {
      // A store beside a broker that is down (or frozen) would fail or hang: answer at once.
      this.options.counters?.failed();
      throw new BusUnavailableError();
    }
    if (this.options.revocationStore) {
      try {
        await this.options.revocationStore.record(userId, revokedAt, this.options.revocationKeepMs());
      } catch (error) {
        this.options.counters?.failed();
        throw error;
      }
    }
    this.options.revokeLocally?.(userId, revokedAt);
    await this.publishAll([encodeBusMessage(MessageKind.DisconnectUser, { userId, revokedAt })]);
  }

  /** Closes the session's socket, wherever it is, with 1000. */
  async disconnectSession(sessionId: string): Promise<void> {
    checkId(sessionId, 'sessionId');
    await this.publishAll([encodeBusMessage(MessageKind.DisconnectSession, { sessionId })]);
  }

  /**
   * One request's messages in order, all or nothing as far as this process can tell: nothing
   * goes out while the bus is down or when any message is over the broker's limit.
   */
  private async publishAll(messages: Uint8Array[]): Promise<void> {
    try {
      await publishAll(this.options.bus, messages);
    } catch (error) {
      this.options.counters?.failed();
      throw error;
    }
  }
}

export async function publishAll(bus: Bus, messages: Uint8Array[]): Promise<void> {
  if (!bus.up) throw new BusUnavailableError();
  const limit = bus.maxMessageBytes;
  if (limit !== undefined) {
    for (const msg of messages) {
      if (msg.length > limit) {
        throw new MessageTooLargeError(`an event of ${msg.length} bytes on the bus is over the broker's limit of ${limit}`);
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
  const max = IdString.maxLength ?? 128;
  if (typeof id !== 'string' || id.length < 1 || id.length > max) {
    throw new InvalidIdError(`${what} must be a string of 1–${max} characters`);
  }
}
