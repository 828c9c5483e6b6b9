import { BusUnavailableError } from '../errors.js';
import type { Bus } from './bus.js';

/**
 * The embedded bus: one process, no broker. A publish is delivered to this process's
 * subscriber before `publish` resolves, so order is call order.
 */
export class LocalBus implements Bus {
  readonly name = 'local';
  private onMessage: ((msg: Uint8Array) => void) | undefined;
  private readonly listeners: ((up: boolean) => void)[] = [];

  get up(): boolean {
    return this.onMessage !== undefined;
  }

  async start(onMessage: (msg: Uint8Array) => void): Promise<void> {
    this.onMessage = onMessage;
    for (const listener of this.listeners) listener(true);
  }

  async publish(msg: Uint8Array): Promise<void> {
    if (!this.onMessage) throw new BusUnavailableError('the local bus is closed');
    this.onMessage(msg);
  }

  onStatus(listener: (up: boolean) => void): void {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {
    this.onMessage = undefined;
    for (const listener of this.listeners) listener(false);
  }
}
