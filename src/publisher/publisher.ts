import { MIN_REVOCATION_KEEP_MS } from '../auth/revocations.js';
import type { RevocationStore } from '../auth/revocation-store.js';
import type { Bus } from '../bus/bus.js';
import { Emitter } from '../emitter.js';
import type { PublishEvent } from '../protocol/event.js';

export interface HeraldPublisherOptions {
  /** Where user revocations are kept for pods started later (the broker factories pass theirs). */
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
  private readonly emitter: Emitter;
  private readonly revocationStore: RevocationStore | undefined;

  constructor(
    private readonly bus: Bus,
    options: HeraldPublisherOptions = {},
  ) {
    this.revocationStore = options.revocationStore;
    const keepMs = Math.max(options.maxTokenLifetimeMs ?? 0, MIN_REVOCATION_KEEP_MS);
    this.emitter = new Emitter({ bus, revocationStore: options.revocationStore, revocationKeepMs: () => keepMs });
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

  /** Closes every socket of the user on every pod (4003) and revokes the tokens issued before now. */
  disconnectUser(userId: string): Promise<void> {
    return this.emitter.disconnectUser(userId);
  }

  /** Closes the session's socket, wherever it is, with 1000. */
  disconnectSession(sessionId: string): Promise<void> {
    return this.emitter.disconnectSession(sessionId);
  }

  async close(): Promise<void> {
    await this.revocationStore?.close();
    await this.bus.close();
  }
}
