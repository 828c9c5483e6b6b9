import { connect, type NatsConnection, type Status, type Subscription } from '@nats-io/transport-node';
import { BusUnavailableError, MessageTooLargeError } from '../../errors.js';
import type { RevocationStore } from '../../auth/revocation-store.js';
import { MAX_REVOCATION_KEEP_MS } from '../../auth/revocations.js';
import type { Logger } from '../../log.js';
import type { EventLogInfo } from '../../recovery/recovery.js';
import type { Bus, BusMessageHandler } from '../bus.js';
import { retryUntilDone } from '../retry.js';
import { NatsEventLog } from './nats-event-log.js';
import { NatsRevocationStore } from './nats-revocation-store.js';

export interface NatsBusOptions {
  /** One URL or the URLs of a cluster; the client also learns the cluster's other nodes from the server. */
  servers: string[];
  /** The NATS core subject every pod subscribes to (HERALD_NATS_SUBJECT). */
  subject: string;
  log: Logger;
  /** Shown by the server's monitoring pages. */
  name?: string;
  /** Milliseconds between reconnect attempts to one server, before jitter. */
  reconnectTimeWaitMs?: number;
  /** Publishers that are not pods: no subscription, `start`'s handler is never called. */
  publishOnly?: boolean;
  /** Keep the event log (§6) in this JetStream stream; without it the subject is plain core NATS. */
  eventLog?: { stream: string; windowS: number; maxBytes: number };
}

const CLOSE_TIMEOUT_MS = 2_000;

/**
 * The bus over one NATS core subject: every pod publishes to it and subscribes to it.
 *
 * The client reconnects by itself, forever, across the configured servers and the ones the
 * cluster announces. While it is disconnected `up` is false and `publish` rejects at once:
 * nats.js would otherwise buffer the publish and drop it on reconnect, so a 202 would lie.
 */
export class NatsBus implements Bus {
  readonly name = 'nats';
  private nc: NatsConnection | undefined;
  private subscription: Subscription | undefined;
  private eventLog: NatsEventLog | undefined;
  private connected = false;
  private reportedUp = false;
  private closing = false;
  private readonly listeners: ((up: boolean) => void)[] = [];

  constructor(private readonly options: NatsBusOptions) {}

  /** Connected, and with an event log configured, the log open and read up to where it stood. */
  get up(): boolean {
    return this.connected && (this.options.eventLog === undefined || this.eventLog !== undefined);
  }

  get maxMessageBytes(): number | undefined {
    return this.nc?.info?.max_payload;
  }

  createRevocationStore(log: Logger): RevocationStore {
    return new NatsRevocationStore({ bus: this, log, maxKeepMs: MAX_REVOCATION_KEEP_MS });
  }

  /** The live connection, for services that share it (the revocation store). */
  get connection(): NatsConnection {
    if (!this.nc) throw new BusUnavailableError('the NATS bus is not started');
    return this.nc;
  }

  async start(onMessage: BusMessageHandler, onLogOpened?: (log: EventLogInfo) => void): Promise<void> {
    const { servers, subject, log } = this.options;
    const wait = this.options.reconnectTimeWaitMs ?? 1_000;
    let nc: NatsConnection;
    try {
      nc = await connect({
        servers,
        name: this.options.name ?? 'herald',
        maxReconnectAttempts: -1,
        reconnectTimeWait: wait,
        reconnectJitter: Math.floor(wait / 2),
        // Half-open connections (a partition, not a dead process) are noticed within ~30 s.
        pingInterval: 10_000,
        maxPingOut: 3,
      });
    } catch (error) {
      throw new BusUnavailableError(`cannot connect to NATS at ${servers.join(',')}`, { cause: error });
    }
    this.nc = nc;
    if (!this.options.eventLog) {
      if (!this.options.publishOnly) this.subscribe(nc, onMessage);
      // The subscription reaches the server before anything this process publishes afterwards.
      await nc.flush();
    }
    void this.followStatus(nc);
    nc.closed().then((error) => {
      this.setConnected(false);
      if (error && !this.closing) log.error({ err: error }, 'the NATS connection closed for good');
    });
    log.info({ server: nc.getServer(), subject }, 'connected to NATS');
    this.setConnected(true);
    if (this.options.eventLog) {
      await retryUntilDone(
        async () => {
          await this.openEventLog(nc, onMessage, onLogOpened);
          return {};
        },
        'event log open',
        {
          stopped: () => this.closing || this.eventLog !== undefined,
          log,
          context: { stream: this.options.eventLog.stream },
          failure: 'cannot open the event log stream (is nats-server running with -js?); not ready, retrying',
          // A healthy pod starts warm; past a failure it listens, not ready, while this keeps trying.
          firstAttemptOnly: true,
        },
      );
    }
  }

  /** The stream, then (for a pod) its reader: resolves once the pod has read what the log held. */
  private async openEventLog(
    nc: NatsConnection,
    onMessage: BusMessageHandler,
    onLogOpened: ((log: EventLogInfo) => void) | undefined,
  ): Promise<void> {
    const log = new NatsEventLog(nc, {
      ...this.options.eventLog!,
      subject: this.options.subject,
      adjustLimits: !this.options.publishOnly,
      log: this.options.log,
    });
    try {
      const info = await log.open();
      if (!this.options.publishOnly) {
        onLogOpened?.(NatsEventLog.describe(info));
        await log.follow(info, onMessage);
      }
    } catch (error) {
      await log.close();
      throw error;
    }
    if (this.closing) return log.close();
    this.eventLog = log;
    this.emitStatus();
  }

  private subscribe(nc: NatsConnection, onMessage: BusMessageHandler): void {
    const { subject, log } = this.options;
    this.subscription = nc.subscribe(subject, {
      callback: (error, msg) => {
        if (error) {
          log.error({ err: error, subject }, 'NATS subscription error');
          return;
        }
        onMessage(msg.data, 0);
      },
    });
  }

  async publish(msg: Uint8Array): Promise<void> {
    if (this.eventLog) return this.publishBatch([msg]);
    const nc = this.nc;
    if (!nc || !this.up) throw new BusUnavailableError(this.connected ? 'the event log is not open' : 'NATS is disconnected');
    const limit = this.maxMessageBytes;
    if (limit !== undefined && msg.length > limit) {
      throw new MessageTooLargeError(`a bus message of ${msg.length} bytes is over the NATS max_payload of ${limit}`);
    }
    try {
      nc.publish(this.options.subject, msg);
    } catch (error) {
      throw new BusUnavailableError('NATS refused the publish', { cause: error });
    }
  }

  async publishBatch(messages: Uint8Array[]): Promise<void> {
    if (this.eventLog) {
      if (!this.up) throw new BusUnavailableError('NATS is disconnected');
      return this.eventLog.append(messages);
    }
    // Called in order without awaiting in between: the broker keeps call order.
    await Promise.all(messages.map((msg) => this.publish(msg)));
  }

  onStatus(listener: (up: boolean) => void): void {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {
    const nc = this.nc;
    if (!nc || this.closing) return;
    this.closing = true;
    this.setConnected(false);
    this.subscription?.unsubscribe();
    await this.eventLog?.close();
    // Flush what was published (a drain's last messages) when the server is there; never hang on it.
    const done = nc.isClosed() ? Promise.resolve() : nc.flush().catch(() => {}).then(() => nc.close());
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([done, new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_TIMEOUT_MS)))]);
    clearTimeout(timer);
    if (!nc.isClosed()) await nc.close();
  }

  private async followStatus(nc: NatsConnection): Promise<void> {
    const { log } = this.options;
    for await (const status of nc.status()) {
      this.onNatsStatus(status);
      if (status.type === 'disconnect') log.warn({ server: status.server }, 'NATS disconnected; reconnecting');
      else if (status.type === 'reconnect') log.info({ server: status.server }, 'NATS reconnected');
      else if (status.type === 'ldm') log.warn({ server: status.server }, 'NATS server entering lame duck mode');
      else if (status.type === 'error') log.error({ err: status.error }, 'NATS server error');
    }
  }

  private onNatsStatus(status: Status): void {
    if (status.type === 'disconnect' || status.type === 'close') this.setConnected(false);
    else if (status.type === 'reconnect') this.setConnected(!this.closing);
  }

  private setConnected(connected: boolean): void {
    this.connected = connected;
    this.emitStatus();
  }

  private emitStatus(): void {
    const up = this.up;
    if (this.reportedUp === up) return;
    this.reportedUp = up;
    for (const listener of this.listeners) listener(up);
  }
}
