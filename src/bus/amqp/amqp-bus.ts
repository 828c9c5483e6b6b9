import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import { BusUnavailableError } from '../../errors.js';
import { outgoingBytes, packBundles, type OutgoingMessage } from '../../protocol/bus-format.js';
import type { RevocationStore } from '../../auth/revocation-store.js';
import type { Logger } from '../../log.js';
import type { Bus, BusMessageHandler } from '../bus.js';
import { backoffDelay, connectUntilUp, logBrokerFailure, type Backoff } from '../first-connect.js';
import { SilenceWatch } from '../silence-watch.js';
import { classifyAmqpFailure, connectAmqp } from './amqp-connect.js';
import { AmqpRevocationStore, revocationStreamFor } from './amqp-revocation-store.js';

export interface AmqpBusOptions {
  /** amqp:// or amqps:// URL of the broker (HERALD_AMQP_URL). */
  url: string;
  /** The non-durable fanout exchange every pod publishes to (HERALD_AMQP_EXCHANGE). */
  exchange: string;
  log: Logger;
  /** A publisher-only client: no queue, no consumer (`start`'s onMessage is never called). */
  publishOnly?: boolean;
  /** Reconnect delay: full jitter over an exponential ceiling, initialMs·2^attempt capped at maxMs. */
  backoff?: { initialMs?: number; maxMs?: number };
  /** Shown as the connection name in the RabbitMQ management UI. */
  connectionName?: string;
  /**
   * A pod: an unreachable (or refusing) RabbitMQ at start is not an error, `start` keeps trying
   * (each failure logged) until it connects or the bus is closed. Off, the first failure rejects.
   */
  waitForBroker?: boolean;
}

const DEFAULT_BACKOFF = { initialMs: 250, maxMs: 5_000 };
/**
 * The most one bundle carries: one body frame at RabbitMQ's default frame_max (128 KiB less the
 * frame's 8 bytes). amqplib joins a message's frames with a copy, and a consumer paid up to
 * 1.5× more CPU per byte for 512 KiB–1 MiB messages than for one-frame ones (bench/amqp-bundle-size.ts).
 */
const MAX_BUNDLE_BYTES = 128 * 1024 - 8;
const CLOSE_TIMEOUT_MS = 2_000;

interface Live {
  connection: ChannelModel;
  channel: Channel;
  /** Pending while the channel's write buffer is over its high-water mark. */
  drained: Promise<void> | undefined;
  rejectDrained: ((error: Error) => void) | undefined;
  /** A pod's watch for a broker that stopped answering; none for a publisher. */
  watch: SilenceWatch | undefined;
  /** Given up as silent: its late deliveries (after the broker thaws) are not this bus's any more. */
  abandoned: boolean;
}

/**
 * The original design's topology: every pod publishes to one non-durable fanout exchange and
 * consumes from its own server-named, exclusive, auto-delete queue bound to it with routing key "".
 *
 * No publisher confirms and a noAck consumer (docs/amqp.md says why): `publish` resolves once
 * amqplib holds the message for the socket. A lost connection — closed, silent for 5 s on a
 * pod (SilenceWatch), or past the heartbeat — makes `up` false and publishes reject at once; the bus then
 * reconnects with exponential backoff and full jitter, forever, and re-declares the exchange,
 * a new queue and its binding. Messages published while this pod had no queue never reach it.
 */
export class AmqpBus implements Bus {
  readonly name = 'amqp';
  private live: Live | undefined;
  private blocked = false;
  private closing = false;
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private onMessage: BusMessageHandler = () => {};
  private readonly listeners: ((up: boolean) => void)[] = [];
  private readonly backoff: Backoff;
  private wasUp = false;

  constructor(private readonly options: AmqpBusOptions) {
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
  }

  createRevocationStore(log: Logger): RevocationStore {
    return new AmqpRevocationStore({ url: this.options.url, stream: revocationStreamFor(this.options.exchange), log });
  }

  get up(): boolean {
    return this.live !== undefined && !this.blocked && !this.closing;
  }

  /**
   * Connects, declares and consumes. Without `waitForBroker` the first failed attempt rejects
   * with BusUnavailableError (BrokerAuthenticationError when the credentials were refused).
   * No event log: queues hold only what arrives while a pod is connected (docs/amqp.md).
   */
  async start(onMessage: BusMessageHandler): Promise<void> {
    this.onMessage = onMessage;
    await connectUntilUp({
      attempt: () => this.connect(),
      classify: (error) => classifyAmqpFailure(error, this.options.url),
      waitForBroker: this.options.waitForBroker ?? false,
      backoff: this.backoff,
      stopped: () => this.closing,
      log: this.options.log,
    });
  }

  publish(message: OutgoingMessage): Promise<void> {
    return this.send(outgoingBytes(message));
  }

  /**
   * A request's messages as few AMQP messages as MAX_BUNDLE_BYTES allows (bundles, kind 5): the
   * broker's and amqplib's cost is per message, so at 1 target per event a message each made
   * RabbitMQ the bottleneck at ~10 k events/s.
   */
  publishBatch(messages: readonly OutgoingMessage[]): Promise<void> {
    const stored = packBundles(messages.map(outgoingBytes), MAX_BUNDLE_BYTES);
    if (stored.length === 1) return this.send(stored[0]!);
    // Called in order without awaiting in between: the broker keeps call order.
    return Promise.all(stored.map((msg) => this.send(msg))).then(() => undefined);
  }

  private async send(msg: Uint8Array): Promise<void> {
    const live = this.live;
    if (!live || !this.up) {
      throw new BusUnavailableError(this.blocked ? 'RabbitMQ is blocking publishes' : 'RabbitMQ is disconnected');
    }
    let written: boolean;
    try {
      written = live.channel.publish(this.options.exchange, '', Buffer.from(msg.buffer, msg.byteOffset, msg.byteLength));
    } catch (error) {
      throw new BusUnavailableError('RabbitMQ refused the publish', { cause: error });
    }
    // Past the high-water mark: resolve once the buffer drains, so a burst waits instead of piling up.
    if (!written) await this.drained(live);
  }

  onStatus(listener: (up: boolean) => void): void {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    clearTimeout(this.timer);
    this.emitStatus();
    const live = this.live;
    this.live = undefined;
    if (!live) return;
    live.watch?.stop();
    // Closing the channel first flushes what was published (a drain's last messages); never hang on a dead broker.
    const done = live.channel
      .close()
      .catch(() => {})
      .then(() => live.connection.close())
      .catch(() => {});
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([done, new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_TIMEOUT_MS)))]);
    clearTimeout(timer);
  }

  private async connect(): Promise<void> {
    const { exchange, log } = this.options;
    const connection = await connectAmqp(this.options.url, this.options.connectionName ?? 'herald');
    // Listeners first: an 'error' event without one (a failed declaration) would crash the process.
    connection.on('error', (error: Error) => log.error({ err: error }, 'AMQP connection error'));
    let channel: Channel;
    let queue: string | undefined;
    let live: Live | undefined;
    // A pod's own messages come back to it, so a busy broker is heard; a publisher's burst can
    // hold a probe back for seconds behind the broker's flow control: publishers rely on the heartbeat.
    const watch = this.options.publishOnly
      ? undefined
      : new SilenceWatch({
          probe: () => channel.checkExchange(exchange),
          onSilent: (silentMs) => live && this.silent(live, silentMs),
        });
    try {
      channel = await connection.createChannel();
      channel.on('error', (error: Error) => log.error({ err: error }, 'AMQP channel error'));
      await channel.assertExchange(exchange, 'fanout', { durable: false, autoDelete: false });
      if (!this.options.publishOnly) {
        queue = (await channel.assertQueue('', { exclusive: true, autoDelete: true, durable: false })).queue;
        await channel.bindQueue(queue, exchange, '');
        await channel.consume(
          queue,
          (msg) => {
            if (live?.abandoned) return;
            watch?.heard();
            this.deliver(msg);
          },
          { noAck: true },
        );
      }
    } catch (error) {
      await connection.close().catch(() => {});
      throw error;
    }
    if (this.closing) {
      await connection.close().catch(() => {});
      return;
    }

    live = { connection, channel, drained: undefined, rejectDrained: undefined, watch, abandoned: false };
    const current = live;
    connection.on('close', (error?: Error) => this.lost(current, error));
    connection.on('blocked', (reason: string) => {
      log.warn({ reason }, 'RabbitMQ blocked publishing on this connection');
      this.blocked = true;
      this.emitStatus();
    });
    connection.on('unblocked', () => {
      log.info('RabbitMQ unblocked publishing');
      this.blocked = false;
      this.emitStatus();
    });
    // A channel the server closed (a failed operation) leaves the connection open: start over.
    channel.on('close', () => {
      if (this.live === current) connection.close().catch(() => {});
    });
    channel.on('drain', () => {
      // The broker read what was waiting: it is working, if busy.
      watch?.heard();
      current.drained = undefined;
      current.rejectDrained = undefined;
    });

    this.live = live;
    this.blocked = false;
    this.attempt = 0;
    watch?.start();
    log.info({ exchange, queue }, 'connected to RabbitMQ');
    this.emitStatus();
  }

  private deliver(msg: ConsumeMessage | null): void {
    if (msg === null) {
      // The broker cancelled the consumer (its queue was deleted): reconnect for a new queue.
      this.options.log.warn('RabbitMQ cancelled the consumer; reconnecting');
      this.live?.connection.close().catch(() => {});
      return;
    }
    this.onMessage(msg.content, 0);
  }

  private drained(live: Live): Promise<void> {
    live.drained ??= new Promise<void>((resolve, reject) => {
      live.rejectDrained = reject;
      live.channel.once('drain', resolve);
    });
    return live.drained;
  }

  private lost(live: Live, error: Error | undefined): void {
    live.watch?.stop();
    if (this.live !== live) return;
    this.live = undefined;
    live.rejectDrained?.(new BusUnavailableError('the RabbitMQ connection closed before the message was written'));
    if (this.closing) return;
    this.options.log.warn({ err: error }, 'RabbitMQ connection lost; reconnecting');
    this.emitStatus();
    this.scheduleReconnect();
  }

  /**
   * The broker stopped answering without closing the connection: down now, and a new
   * connection. The silent one is closed in the background (a frozen broker never confirms
   * the close) and whatever it still delivers is dropped, so nothing arrives twice.
   */
  private silent(live: Live, silentMs: number): void {
    if (this.live !== live || this.closing) return;
    live.abandoned = true;
    this.live = undefined;
    live.rejectDrained?.(new BusUnavailableError('RabbitMQ stopped answering before the message was written'));
    this.options.log.warn({ silentMs }, 'RabbitMQ stopped answering: counted as down; reconnecting');
    this.emitStatus();
    live.connection.close().catch(() => {});
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    const delayMs = backoffDelay(this.backoff, this.attempt);
    this.attempt++;
    this.timer = setTimeout(() => {
      this.connect().catch((error: unknown) => {
        if (this.closing) return;
        const failure = classifyAmqpFailure(error, this.options.url);
        logBrokerFailure(this.options.log, failure, { attempt: this.attempt });
        this.scheduleReconnect();
      });
    }, delayMs);
  }

  private emitStatus(): void {
    const up = this.up;
    if (up === this.wasUp) return;
    this.wasUp = up;
    for (const listener of this.listeners) listener(up);
  }
}
