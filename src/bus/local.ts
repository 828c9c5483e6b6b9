import { randomBytes } from 'node:crypto';
import { BusUnavailableError } from '../errors.js';
import { MAX_BUNDLE_MESSAGES, type OutgoingMessage } from '../protocol/bus-format.js';
import type { EventLogInfo } from '../recovery/recovery.js';
import type { Bus, BusMessageHandler } from './bus.js';

/**
 * What local buses in one process share: every started member hears every message published
 * on it, and the channel numbers what it carries (the event log of an embedded cluster, kept
 * in the process: a restart is a new epoch). Each LocalBus has a channel of its own unless
 * given one, so several embedded gateways (or tests) in one process can form a cluster.
 */
export class LocalChannel {
  readonly members = new Set<BusMessageHandler>();
  readonly epoch = `local-${randomBytes(9).toString('base64url')}`;
  position = 0;
}

const RESOLVED = Promise.resolve();

export interface LocalBusOptions {
  channel?: LocalChannel;
  /** Sends without receiving (a publisher). */
  publishOnly?: boolean;
  /** Numbers stored messages for recovery (§6); off, every message has position 0. */
  eventLog?: boolean;
}

/**
 * The embedded bus: one process, no broker. A publish is delivered to every member of the
 * channel before `publish` resolves, so order is call order. Messages are handed over as the
 * emitter made them: nothing is encoded or decoded in between.
 */
export class LocalBus implements Bus {
  readonly name = 'local';
  private readonly channel: LocalChannel;
  private member: BusMessageHandler | undefined;
  private started = false;
  private readonly listeners: ((up: boolean) => void)[] = [];

  constructor(private readonly options: LocalBusOptions = {}) {
    this.channel = options.channel ?? new LocalChannel();
  }

  get up(): boolean {
    return this.started;
  }

  async start(onMessage: BusMessageHandler, onLogOpened?: (log: EventLogInfo) => void): Promise<void> {
    // A member that joins later never saw what went before.
    const seen = this.channel.position;
    if (this.options.eventLog) onLogOpened?.({ epoch: this.channel.epoch, coveredAfter: seen === 0 ? 0 : seen * 1024 + 1023 });
    if (!this.options.publishOnly) {
      this.member = onMessage;
      this.channel.members.add(onMessage);
    }
    this.started = true;
    for (const listener of this.listeners) listener(true);
  }

  publish(msg: OutgoingMessage): Promise<void> {
    return this.publishBatch([msg]);
  }

  publishBatch(messages: readonly OutgoingMessage[]): Promise<void> {
    if (!this.started) return Promise.reject(new BusUnavailableError('the local bus is closed'));
    if (!this.options.eventLog) {
      for (const member of this.channel.members) member(messages, 0);
      return RESOLVED;
    }
    // As a broker's log would store them: one position per request, up to a bundle's size.
    for (let from = 0; from < messages.length; from += MAX_BUNDLE_MESSAGES) {
      const stored = messages.length <= MAX_BUNDLE_MESSAGES ? messages : messages.slice(from, from + MAX_BUNDLE_MESSAGES);
      const position = ++this.channel.position;
      for (const member of this.channel.members) member(stored, position);
    }
    return RESOLVED;
  }

  onStatus(listener: (up: boolean) => void): void {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {
    if (this.member) this.channel.members.delete(this.member);
    this.member = undefined;
    this.started = false;
    for (const listener of this.listeners) listener(false);
  }
}
