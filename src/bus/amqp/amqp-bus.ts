import amqplib, { type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';
import { BusUnavailableError } from '../../errors.js';
import type { RevocationStore } from '../../auth/revocation-store.js';
import type { Logger } from '../../log.js';
import type { Bus, BusMessageHandler } from '../bus.js';
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
}

const DEFAULT_BACKOFF = { initialMs: 250, maxMs: 10_000 };
/** Seconds; a half-open connection (a partition, not a closed socket) is noticed after ~2 of them. */
const HEARTBEAT_S = 10;
const CLOSE_TIMEOUT_MS = 2_000;

interface Live {
  connection: ChannelModel;
  channel: Channel;
  /** Pending while the channel's write buffer is over its high-water mark. */
  drained: Promise<void> | undefined;
  rejectDrained: ((error: Error) => void) | undefined;
}

/**
 * The original design's topology: every pod publishes to one non-durable fanout exchange and
 * consumes from its own server-named, exclusive, auto-delete queue bound to it with routing key "".
 *
 * No publisher confirms and a noAck consumer (docs/amqp.md says why): `publish` resolves once
 * amqplib holds the message for the socket. A lost connection makes `up` false and publishes
 * reject at once; the bus then reconnects with exponential backoff and full jitter, forever,
 * and re-declares the exchange, a new queue and its binding. Messages published while this
 * pod had no queue never reach it.
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
  private readonly backoff: { initialMs: number; maxMs: number };
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
   * Connects, declares and consumes; rejects with BusUnavailableError when the first attempt
   * fails. No event log: queues hold only what arrives while a pod is connected (docs/amqp.md).
   */
  async start(onMessage: BusMessageHandler): Promise<void> {
    this.onMessage = onMessage;
    try {
      await this.connect();
    } catch (error) {
      throw new BusUnavailableError(`cannot set up the AMQP bus at ${redact(this.options.url)}`, { cause: error });
    }
  }

  async publish(msg: Uint8Array): Promise<void> {
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

  publishBatch(messages: Uint8Array[]): Promise<void> {
    // Called in order without awaiting in between: the broker keeps call order.
    return Promise.all(messages.map((msg) => this.publish(msg))).then(() => undefined);
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
    const connection = await amqplib.connect(withHeartbeat(this.options.url), {
      clientProperties: { connection_name: this.options.connectionName ?? 'herald' },
    });
    // Listeners first: an 'error' event without one (a failed declaration) would crash the process.
    connection.on('error', (error: Error) => log.error({ err: error }, 'AMQP connection error'));
    let channel: Channel;
    let queue: string | undefined;
    try {
      channel = await connection.createChannel();
      channel.on('error', (error: Error) => log.error({ err: error }, 'AMQP channel error'));
      await channel.assertExchange(exchange, 'fanout', { durable: false, autoDelete: false });
      if (!this.options.publishOnly) {
        queue = (await channel.assertQueue('', { exclusive: true, autoDelete: true, durable: false })).queue;
        await channel.bindQueue(queue, exchange, '');
        await channel.consume(queue, (msg) => this.deliver(msg), { noAck: true });
      }
    } catch (error) {
      await connection.close().catch(() => {});
      throw error;
    }
    if (this.closing) {
      await connection.close().catch(() => {});
      return;
    }

    const live: Live = { connection, channel, drained: undefined, rejectDrained: undefined };
    connection.on('close', (error?: Error) => this.lost(live, error));
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
      if (this.live === live) connection.close().catch(() => {});
    });
    channel.on('drain', () => {
      live.drained = undefined;
      live.rejectDrained = undefined;
    });

    this.live = live;
    this.blocked = false;
    this.attempt = 0;
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
    if (this.live !== live) return;
    this.live = undefined;
    live.rejectDrained?.(new BusUnavailableError('the RabbitMQ connection closed before the message was written'));
    if (this.closing) return;
    this.options.log.warn({ err: error }, 'RabbitMQ connection lost; reconnecting');
    this.emitStatus();
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    const ceiling = Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** this.attempt);
    const delayMs = Math.floor(Math.random() * ceiling);
    this.attempt++;
    this.timer = setTimeout(() => {
      this.connect().catch((error: unknown) => {
        if (this.closing) return;
        this.options.log.warn({ err: error, attempt: this.attempt }, 'RabbitMQ reconnect failed');
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

/** amqplib takes the heartbeat from the URL; a short one notices a dead peer in ~20 s instead of minutes. */
export function withHeartbeat(url: string): string {
  const parsed = new URL(url);
  if (!parsed.searchParams.has('heartbeat')) parsed.searchParams.set('heartbeat', String(HEARTBEAT_S));
  return parsed.toString();
}

function redact(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}
