import type { RevocationStore } from '../auth/revocation-store.js';
import type { Bus } from '../bus/bus.js';
import { publishAll } from '../bus/publish-all.js';
import { MIN_REVOCATION_KEEP_MS } from '../auth/revocations.js';
import { encodeBusMessage, MessageKind } from '../protocol/bus-format.js';
import type { PublishEvent } from '../protocol/event.js';
import { encodeEvents } from './event-encoder.js';

export interface HeraldPublisherOptions {
  /** Where user revocations are kept for pods started later (the NATS factory passes its KV store). */
  revocationStore?: RevocationStore;
  /** The longest lifetime of your client tokens: how long a revocation must be kept. Default a day, as the gateway's. */
  maxTokenLifetimeMs?: number;
}

/**
 * Emits onto the bus without a gateway and without an HTTP hop, for backend services.
 * Same validation and encoding as `POST /v1/events` (all or nothing; InvalidEventError with
 * the same details), same guarantees: once a call resolves the messages are on the bus;
 * BusUnavailableError means nothing was published. Works over any started Bus.
 */
export class HeraldPublisher {
  private readonly revocationStore: RevocationStore | undefined;
  private readonly maxTokenLifetimeMs: number;

  constructor(
    private readonly bus: Bus,
    options: HeraldPublisherOptions = {},
  ) {
    this.revocationStore = options.revocationStore;
    this.maxTokenLifetimeMs = Math.max(options.maxTokenLifetimeMs ?? 0, MIN_REVOCATION_KEEP_MS);
  }

  /** False while the broker is unreachable: calls then reject with BusUnavailableError. */
  get up(): boolean {
    return this.bus.up;
  }

  onStatus(listener: (up: boolean) => void): void {
    this.bus.onStatus(listener);
  }

  /** One event or a batch of up to 1000; resolves with their ids in order. */
  async emit(events: PublishEvent | PublishEvent[]): Promise<string[]> {
    const { ids, messages } = encodeEvents(events);
    await this.publishAll(messages);
    return ids;
  }

  /** Closes every socket of the user on every pod (4003) and revokes the tokens issued before now. */
  async disconnectUser(userId: string): Promise<void> {
    checkId(userId, 'userId');
    const revokedAt = Date.now();
    await this.revocationStore?.record(userId, revokedAt, this.maxTokenLifetimeMs);
    await this.publishAll([encodeBusMessage(MessageKind.DisconnectUser, { userId, revokedAt })]);
  }

  /** Closes the session's socket, wherever it is, with 1000. */
  async disconnectSession(sessionId: string): Promise<void> {
    checkId(sessionId, 'sessionId');
    await this.publishAll([encodeBusMessage(MessageKind.DisconnectSession, { sessionId })]);
  }

  async close(): Promise<void> {
    await this.revocationStore?.close();
    await this.bus.close();
  }

  private publishAll(messages: Uint8Array[]): Promise<void> {
    return publishAll(this.bus, messages);
  }
}

function checkId(id: string, what: string): void {
  if (typeof id !== 'string' || id.length < 1 || id.length > 128) {
    throw new TypeError(`${what} must be a string of 1–128 characters`);
  }
}
