import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage, Options } from 'amqplib';
import { randomUUID } from 'node:crypto';
import type { RevocationStore } from '../../auth/revocation-store.js';
import type { Revocations } from '../../auth/revocations.js';
import { BusUnavailableError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { restartLater, retryUntilDone } from '../retry.js';
import { connectAmqp } from './amqp-connect.js';

/** The stream that goes with a fanout exchange: `herald.events` keeps its revocations in `herald.events.revocations`. */
export function revocationStreamFor(exchange: string): string {
  return `${exchange}.revocations`;
}
/** Stream retention: a revocation is read only while it can still cover an unexpired token. */
const STREAM_MAX_AGE = '7D';
/** A disconnect waits this long for RabbitMQ's confirm before it answers 503 (a frozen broker never confirms). */
const RECORD_TIMEOUT_MS = 5_000;

export interface AmqpRevocationStoreOptions {
  /** The gateway's HERALD_AMQP_URL. */
  url: string;
  log: Logger;
  /** The stream's name: revocationStreamFor(HERALD_AMQP_EXCHANGE). */
  stream: string;
  /** Milliseconds between attempts while RabbitMQ is unavailable. */
  retryMs?: number;
}

interface StoredRevocation {
  userId: string;
  revokedAt: number;
  /** After this instant (ms) the revocation covers no unexpired token. */
  keepUntil: number;
}

interface Live {
  connection: ChannelModel;
  /** Confirm mode: `record` resolves once RabbitMQ has the revocation on disk. */
  writer: ConfirmChannel;
}

/**
 * Revocations in a RabbitMQ stream (a durable, append-only queue, RabbitMQ ≥ 3.9): `record`
 * appends with a publisher confirm; every pod reads the stream from its first entry at start
 * and keeps following it. A pod knows it has caught up when it reads a marker it appended
 * itself just before. Entries past their `keepUntil` are skipped; the stream drops whole
 * segments older than seven days, so token lifetimes must stay under that.
 */
export class AmqpRevocationStore implements RevocationStore {
  readonly name = 'amqp-stream';
  private readonly stream: string;
  private live: Live | undefined;
  private connecting: Promise<Live> | undefined;
  private closed = false;

  constructor(private readonly options: AmqpRevocationStoreOptions) {
    this.stream = options.stream;
  }

  /** Not ready until loaded: a pod that cannot know old revocations must not accept sockets. */
  async start(table: Revocations): Promise<void> {
    await retryUntilDone(
      async () => {
        await this.follow(table);
        return { revocations: table.size };
      },
      'revocations loaded',
      {
        retryMs: this.options.retryMs,
        stopped: () => this.closed,
        log: this.options.log,
        context: { stream: this.stream },
        failure: 'cannot load revocations from RabbitMQ; retrying',
      },
    );
  }

  async record(userId: string, revokedAtMs: number, keepMs: number): Promise<void> {
    if (this.closed) throw new BusUnavailableError('the revocation store is closed');
    const entry: StoredRevocation = { userId, revokedAt: revokedAtMs, keepUntil: revokedAtMs + keepMs };
    try {
      const { writer } = await this.connect();
      await withTimeout(append(writer, this.stream, Buffer.from(JSON.stringify(entry)), {}), RECORD_TIMEOUT_MS);
    } catch (error) {
      throw new BusUnavailableError('the revocation could not be stored', { cause: error });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const live = this.live;
    this.live = undefined;
    await live?.connection.close().catch(() => {});
  }

  /** Reads the stream from its first entry into `table`; resolves once the marker appended now is read. */
  private async follow(table: Revocations): Promise<void> {
    const live = await this.connect();
    const reader = await live.connection.createChannel();
    reader.on('error', (error: Error) => this.options.log.warn({ err: error }, 'revocation stream reader error'));
    // A stream consumer needs acks and a prefetch: they are its flow control, nothing is removed.
    await reader.prefetch(1_000);
    const marker = randomUUID();
    let caughtUp: () => void = () => {};
    const loaded = new Promise<void>((resolve, reject) => {
      caughtUp = resolve;
      reader.once('close', () => reject(new Error('the stream reader closed before it caught up')));
    });
    // Handled below once awaited; until then a close must not become an unhandled rejection (fatal on Bun).
    loaded.catch(() => {});
    let deadline: ReturnType<typeof setTimeout> | undefined;
    try {
      await reader.consume(this.stream, (msg) => this.read(reader, table, msg, marker, caughtUp), {
        noAck: false,
        arguments: { 'x-stream-offset': 'first' },
      });
      await append(live.writer, this.stream, Buffer.alloc(0), { headers: { 'x-herald-marker': marker } });
      await Promise.race([
        loaded,
        new Promise<never>((_, reject) => {
          deadline = setTimeout(() => reject(new Error('the revocation stream was not read within 30 s')), 30_000);
        }),
      ]);
    } catch (error) {
      // A failed load must not leave a reader consuming the whole stream behind the retry.
      await reader.close().catch(() => {});
      throw error;
    } finally {
      clearTimeout(deadline);
    }
    // Later losses of the connection: follow again from the start (revoking twice is harmless).
    reader.once('close', () => {
      if (!this.closed) restartLater(() => this.start(table), { retryMs: this.options.retryMs, stopped: () => this.closed });
    });
  }

  private read(reader: Channel, table: Revocations, msg: ConsumeMessage | null, marker: string, caughtUp: () => void) {
    if (msg === null) return;
    reader.ack(msg);
    const headers = msg.properties.headers ?? {};
    if ('x-herald-marker' in headers) {
      if (headers['x-herald-marker'] === marker) caughtUp();
      return;
    }
    try {
      const entry = JSON.parse(msg.content.toString()) as StoredRevocation;
      if (typeof entry.userId !== 'string' || typeof entry.revokedAt !== 'number') throw new Error('not a revocation');
      if (!(entry.keepUntil <= Date.now())) table.revoke(entry.userId, entry.revokedAt);
    } catch (error) {
      this.options.log.warn({ err: error }, 'unreadable revocation entry ignored');
    }
  }

  private connect(): Promise<Live> {
    if (this.live) return Promise.resolve(this.live);
    this.connecting ??= this.open().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async open(): Promise<Live> {
    const connection = await connectAmqp(this.options.url, 'herald-revocations');
    // Listeners first: an 'error' event without one (a failed declaration) would crash the process.
    const { log } = this.options;
    connection.on('error', (error: Error) => log.warn({ err: error }, 'revocation store connection error'));
    try {
      const writer = await connection.createConfirmChannel();
      writer.on('error', (error: Error) => log.warn({ err: error }, 'revocation store channel error'));
      await writer.assertQueue(this.stream, {
        durable: true,
        arguments: {
          'x-queue-type': 'stream',
          'x-max-age': STREAM_MAX_AGE,
          // Small segments, so the age limit drops old entries soon after they pass it.
          'x-stream-max-segment-size-bytes': 1_000_000,
        },
      });
      const live: Live = { connection, writer };
      connection.on('close', () => {
        if (this.live === live) this.live = undefined;
      });
      writer.on('close', () => {
        if (this.live === live) connection.close().catch(() => {});
      });
      if (this.closed) throw new BusUnavailableError('the revocation store is closed');
      this.live = live;
      return live;
    } catch (error) {
      await connection.close().catch(() => {});
      throw error;
    }
  }
}

function append(writer: ConfirmChannel, stream: string, body: Buffer, options: Options.Publish): Promise<void> {
  return new Promise((resolve, reject) => {
    writer.publish('', stream, body, { ...options, persistent: true }, (error) => (error ? reject(error) : resolve()));
  });
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`RabbitMQ did not confirm within ${ms} ms`)), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}
