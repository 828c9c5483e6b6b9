import type { Logger } from '../log.js';
import { reconnectFrame } from '../protocol/client-frames.js';
import { Disconnect } from '../protocol/close-codes.js';
import type { Hub } from './hub.js';

/**
 * The SIGTERM procedure (§5): not ready, upgrades refused, every client asked to leave with a
 * jittered `afterMs`; after the drain timeout the rest are closed with 1012. TCP's TIME_WAIT
 * stays on the pod whoever closes first: uWebSockets ends TCP once it has answered a close
 * frame (bench/RESULTS.md, "TIME_WAIT").
 */
export class Drain {
  /** From the first call on: /readyz 503 and upgrades refused. */
  draining = false;
  /** The deadline has come: sockets still opening are closed with 1012 at once. */
  closingAll = false;
  private done: Promise<void> | undefined;

  constructor(
    private readonly hub: Hub,
    private readonly drainTimeoutMs: number,
    private readonly log: Logger,
  ) {}

  /** Runs the procedure once; later calls get the same promise. */
  run(): Promise<void> {
    this.done ??= this.closeEverySocket();
    return this.done;
  }

  /** Jittered so the clients of a draining pod do not all reconnect at the same instant. */
  reconnectFrame(): string {
    const spreadMs = Math.max(1, Math.min(5_000, Math.floor(this.drainTimeoutMs / 2)));
    return reconnectFrame(Math.floor(Math.random() * spreadMs));
  }

  private async closeEverySocket(): Promise<void> {
    this.draining = true;
    const { hub, drainTimeoutMs } = this;
    this.log.info({ sockets: hub.size, drainTimeoutMs }, 'draining: asking clients to reconnect elsewhere');
    for (const socket of hub.sockets()) socket.send(this.reconnectFrame());
    await this.waitForEmptyHub(Date.now() + drainTimeoutMs);
    const remaining = hub.size;
    this.closingAll = true;
    for (const socket of [...hub.sockets()]) socket.end(Disconnect.PodRestart);
    await this.waitForEmptyHub(Date.now() + 1_000);
    this.log.info({ closedWith1012: remaining }, 'drain finished');
  }

  private async waitForEmptyHub(deadline: number): Promise<void> {
    while (this.hub.size > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(50, Math.max(1, deadline - Date.now()))));
    }
  }
}
