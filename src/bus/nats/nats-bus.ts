import { connect, type NatsConnection, type Status, type Subscription } from '@nats-io/transport-node';
import { BrokerAuthenticationError, BusUnavailableError, MessageTooLargeError } from '../../errors.js';
import type { RevocationStore } from '../../auth/revocation-store.js';
import { MAX_REVOCATION_KEEP_MS } from '../../auth/revocations.js';
import type { Logger } from '../../log.js';
import type { EventLogInfo } from '../../recovery/recovery.js';
import type { Bus, BusMessageHandler } from '../bus.js';
import { connectUntilUp, type Backoff } from '../first-connect.js';
import { redactUrl } from '../redact-url.js';
import { retryUntilDone } from '../retry.js';
import { SilenceWatch } from '../silence-watch.js';
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
  /**
   * A pod: an unreachable NATS at start is not an error, `start` keeps trying (each failure
   * logged) until it connects or the bus is closed. Off, the first failure rejects `start`.
   */
  waitForBroker?: boolean;
  /** Delays between attempts while `start` waits for the broker. */
  startBackoff?: Backoff;
}

const CLOSE_TIMEOUT_MS = 2_000;
/** One connection attempt, TCP and the server's INFO, gives up after this long. */
const CONNECT_TIMEOUT_MS = 5_000;
const DEFAULT_START_BACKOFF: Backoff = { initialMs: 250, maxMs: 5_000 };

/**
 * The bus over one NATS core subject: every pod publishes to it and subscribes to it.
 *
 * The client reconnects by itself, forever, across the configured servers and the ones the
 * cluster announces; for a pod, a server that stops answering counts as gone within 6 s
 * (SilenceWatch), for a publisher after the client's pings (~30 s). While it
 * is disconnected `up` is false and `publish` rejects at once: nats.js would otherwise buffer
 * the publish and drop it on reconnect, so a 202 would lie.
 */
export class NatsBus implements Bus {
  readonly name = 'nats';
  private nc: NatsConnection | undefined;
  private subscription: Subscription | undefined;
  private eventLog: NatsEventLog | undefined;
  private connected = false;
  private reportedUp = false;
  private closing = false;
  private watch: SilenceWatch | undefined;
  private readonly listeners: ((up: boolean) => void)[] = [];

  constructor(private readonly options: NatsBusOptions) {}

  /** Connected, and with an event log configured, the log open and read up to where it stood. */
  get up(): boolean {
    return this.connected && (this.options.eventLog === undefined || this.eventLog !== undefined);
  }

  get maxMessageBytes(): number | undefined {
    return this.nc?.info?.max_payload;
  }

  readLog(from: number, to: number, each: BusMessageHandler, maxMessages: number): Promise<boolean> {
    if (!this.eventLog || !this.up) return Promise.resolve(false);
    return this.eventLog.read(from, to, each, maxMessages);
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
    const shown = servers.map(redactUrl).join(',');
    const nc = await connectUntilUp({
      attempt: () =>
        connect({
          servers,
          name: this.options.name ?? 'herald',
          timeout: CONNECT_TIMEOUT_MS,
          maxReconnectAttempts: -1,
          reconnectTimeWait: wait,
          reconnectJitter: Math.floor(wait / 2),
          // The client's own stale-connection check, behind the silence watch's faster one.
          pingInterval: 10_000,
          maxPingOut: 3,
        }),
      classify: (error) =>
        (error as Error)?.name === 'AuthorizationError'
          ? new BrokerAuthenticationError(
              `NATS refused the credentials of HERALD_NATS_URL (authentication refused) at ${shown}`,
              { cause: error },
            )
          : new BusUnavailableError(`cannot connect to NATS at ${shown} (unreachable)`, { cause: error }),
      waitForBroker: this.options.waitForBroker ?? false,
      backoff: this.options.startBackoff ?? DEFAULT_START_BACKOFF,
      stopped: () => this.closing,
      log,
    });
    if (this.closing) {
      await nc.close();
      throw new BusUnavailableError('the NATS bus was closed while it connected');
    }
    this.nc = nc;
    if (!this.options.eventLog) {
      if (!this.options.publishOnly) this.subscribe(nc, onMessage);
      // The subscription reaches the server before anything this process publishes afterwards.
      await nc.flush();
    }
    // A pod only: its subscription keeps it hearing a busy server. A publisher's burst can hold
    // a probe back behind its own writes; publishers rely on the client's pings.
    if (!this.options.publishOnly) {
      this.watch = new SilenceWatch({ probe: () => nc.flush(), onSilent: (silentMs) => this.silent(nc, silentMs) });
      this.watch.start();
    }
    void this.followStatus(nc);
    nc.closed().then((error) => {
      this.watch?.stop();
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
        await log.follow(info, (msg, position) => {
          this.watch?.heard();
          onMessage(msg, position);
        });
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
        this.watch?.heard();
        onMessage(msg.data, 0);
      },
    });
  }

  async publish(msg: Uint8Array): Promise<void> {
    return this.publishBatch([msg]);
  }

  async publishBatch(messages: Uint8Array[]): Promise<void> {
    if (this.eventLog) {
      if (!this.up) throw new BusUnavailableError('NATS is disconnected');
      return this.eventLog.append(messages);
    }
    const nc = this.nc;
    if (!nc || !this.up) throw new BusUnavailableError(this.connected ? 'the event log is not open' : 'NATS is disconnected');
    const limit = this.maxMessageBytes;
    if (limit !== undefined) {
      for (const msg of messages) {
        if (msg.length > limit) throw new MessageTooLargeError(`a bus message of ${msg.length} bytes is over the NATS max_payload of ${limit}`);
      }
    }
    // In order, in this turn: nats.js writes them together when the task ends, and the broker keeps call order.
    const subject = this.options.subject;
    try {
      for (const msg of messages) nc.publish(subject, msg);
    } catch (error) {
      throw new BusUnavailableError('NATS refused the publish', { cause: error });
    }
  }

  onStatus(listener: (up: boolean) => void): void {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {
    const nc = this.nc;
    if (this.closing) return;
    this.closing = true;
    this.watch?.stop();
    this.setConnected(false);
    if (!nc) return;
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
      if (status.type === 'staleConnection') log.warn('NATS missed its pings; reconnecting');
      else if (status.type === 'disconnect') log.warn({ server: status.server }, 'NATS disconnected; reconnecting');
      else if (status.type === 'reconnect') log.info({ server: status.server }, 'NATS reconnected');
      else if (status.type === 'ldm') log.warn({ server: status.server }, 'NATS server entering lame duck mode');
      else if (status.type === 'error') log.error({ err: status.error }, 'NATS server error');
    }
  }

  private onNatsStatus(status: Status): void {
    if (status.type === 'staleConnection' || status.type === 'disconnect' || status.type === 'close') {
      this.watch?.stop();
      this.setConnected(false);
    } else if (status.type === 'reconnect' && !this.closing) {
      this.watch?.start();
      this.setConnected(true);
      // The reader's server-side consumer may have died with the node it lived on: start it over
      // after the last message read, rather than wait for missed heartbeats.
      this.eventLog?.resumeReading();
    }
  }

  /** The server stopped answering without closing the connection: down now, and over to a server that answers. */
  private silent(nc: NatsConnection, silentMs: number): void {
    if (this.closing) return;
    this.options.log.warn({ server: nc.getServer(), silentMs }, 'NATS stopped answering: counted as down; reconnecting');
    this.setConnected(false);
    nc.reconnect().catch((error: unknown) => this.options.log.warn({ err: error }, 'NATS reconnect after silence failed'));
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
