import { BusUnavailableError } from '../errors.js';
import type { Bus } from './bus.js';

/**
 * What local buses in one process share: every started member hears every message published
 * on it. Each LocalBus has a channel of its own unless given one, so several embedded gateways
 * (or tests) in one process can form a cluster without a broker.
 */
export class LocalChannel {
  readonly members = new Set<(msg: Uint8Array) => void>();
}

export interface LocalBusOptions {
  channel?: LocalChannel;
  /** Sends without receiving (a publisher). */
  publishOnly?: boolean;
}

/**
 * The embedded bus: one process, no broker. A publish is delivered to every member of the
 * channel before `publish` resolves, so order is call order.
 */
export class LocalBus implements Bus {
  readonly name = 'local';
  private readonly channel: LocalChannel;
  private member: ((msg: Uint8Array) => void) | undefined;
  private started = false;
  private readonly listeners: ((up: boolean) => void)[] = [];

  constructor(private readonly options: LocalBusOptions = {}) {
    this.channel = options.channel ?? new LocalChannel();
  }

  get up(): boolean {
    return this.started;
  }

  async start(onMessage: (msg: Uint8Array) => void): Promise<void> {
    if (!this.options.publishOnly) {
      this.member = onMessage;
      this.channel.members.add(onMessage);
    }
    this.started = true;
    for (const listener of this.listeners) listener(true);
  }

  async publish(msg: Uint8Array): Promise<void> {
    if (!this.started) throw new BusUnavailableError('the local bus is closed');
    for (const member of this.channel.members) member(msg);
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
