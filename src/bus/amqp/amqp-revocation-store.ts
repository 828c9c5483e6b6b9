import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage, Options } from 'amqplib';
import { randomUUID } from 'node:crypto';
import type { RevocationStore, StoredRevocation } from '../../auth/revocation-store.js';
import type { Revocation, Revocations } from '../../auth/revocations.js';
import { BusUnavailableError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { restartLater, retryUntilDone } from '../retry.js';
import { connectAmqp } from './amqp-connect.js';

/** The stream that goes with a fanout exchange: `herald.events` keeps its revocations in `herald.events.revocations`. */
export function revocationStreamFor(exchange: string): string {
  return `${exchange}.revocations`;
}
/** A disconnect waits this long for RabbitMQ's confirm before it answers 503 (a frozen broker never confirms). */
const RECORD_TIMEOUT_MS = 5_000;
/** How long the reader may go without a message while it loads before the load is tried again. */
const LOAD_STALL_MS = 30_000;
/** While loading, how often the store says how far it got. */
const PROGRESS_EVERY_MS = 5_000;
/** Messages the broker may send ahead, and how often the reader acknowledges them (all up to one): flow control only. */
const PREFETCH = 10_000;
const ACK_EVERY = 1_000;

/** Stream retention, in whole days: a revocation is read only while it can still cover an unexpired token. */
function streamMaxAge(keepMs: number): string {
  return `${Math.ceil(keepMs / 86_400_000) + 1}D`;
}

export interface AmqpRevocationStoreOptions {
  /** The gateway's HERALD_AMQP_URL. */
  url: string;
  log: Logger;
  /** The stream's name: revocationStreamFor(HERALD_AMQP_EXCHANGE). */
  stream: string;
  /** Milliseconds between attempts while RabbitMQ is unavailable. */
  retryMs?: number;
}

/** One entry of the stream: a stored revocation and the instant after which it covers no unexpired token. */
type StreamEntry = StoredRevocation & { keepUntil: number };

interface Live {
  connection: ChannelModel;
  /** Confirm mode: `record` resolves once RabbitMQ has the revocation on disk. */
  writer: ConfirmChannel;
}

/**
 * Revocations in a RabbitMQ stream (a durable, append-only queue, RabbitMQ ≥ 3.9): `record`
 * appends with a publisher confirm; every pod reads the stream from its first entry at start
 * and keeps following it. A pod knows it has caught up when it reads a marker it appended
 * itself just before — at start, and again after every lost connection, when it resumes after
 * the last entry it read. Entries past their `keepUntil` are skipped; the stream drops whole
 * segments older than its max age, set at creation from the keep (the longest token lifetime
 * plus the skew, in whole days).
 */
export class AmqpRevocationStore implements RevocationStore {
  readonly name = 'amqp-stream';
  private readonly stream: string;
  private live: Live | undefined;
  private connecting: Promise<Live> | undefined;
  private closed = false;
  private loaded = false;
  private upToDate = false;
  /** The stream offset of the last entry read: a reader that restarts resumes after it. */
  private lastOffset: number | undefined;
  private keepMs = 0;

  constructor(private readonly options: AmqpRevocationStoreOptions) {
    this.stream = options.stream;
  }

  get current(): boolean {
    return this.loaded && this.upToDate && !this.closed;
  }

  /** Not ready until loaded: a pod that cannot know old revocations must not accept sockets. */
  async start(table: Revocations): Promise<void> {
    this.keepMs = Math.max(this.keepMs, table.keepMs);
    const started = Date.now();
    await retryUntilDone(
      async () => {
        await this.follow(table);
        return { revocations: table.size, ms: Date.now() - started };
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

  async record(revocation: Revocation, keepMs: number): Promise<void> {
    if (this.closed) throw new BusUnavailableError('the revocation store is closed');
    this.keepMs = Math.max(this.keepMs, keepMs);
    const { userId, sessionId, revokedAt, calledAt, user } = revocation;
    const entry: StreamEntry = { userId, sessionId, revokedAt, calledAt, user, keepUntil: Math.max(revokedAt, calledAt) + keepMs };
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

  /**
   * Reads the stream into `table` from its first entry (or after the last one read, when the
   * reader restarts); resolves once the marker appended now is read.
   */
  private async follow(table: Revocations): Promise<void> {
    this.upToDate = false;
    const live = await this.connect();
    const reader = await live.connection.createChannel();
    reader.on('error', (error: Error) => this.options.log.warn({ err: error }, 'revocation stream reader error'));
    // A stream consumer needs acks and a prefetch: they are its flow control, nothing is removed.
    await reader.prefetch(PREFETCH);
    let unacked = 0;
    const marker = randomUUID();
    let caughtUp: () => void = () => {};
    let stalled: () => void = () => {};
    const loaded = new Promise<void>((resolve, reject) => {
      caughtUp = resolve;
      stalled = () => reject(new Error(`the revocation stream reader read nothing for ${LOAD_STALL_MS / 1000} s`));
      reader.once('close', () => reject(new Error('the stream reader closed before it caught up')));
    });
    // Handled below once awaited; until then a close must not become an unhandled rejection (fatal on Bun).
    loaded.catch(() => {});
    // A large stream takes as long as it takes: only a reader that stops reading is given up.
    let deadline: ReturnType<typeof setTimeout> | undefined;
    const alive = () => {
      clearTimeout(deadline);
      deadline = setTimeout(stalled, LOAD_STALL_MS);
    };
    const progress = { read: 0, at: Date.now() + PROGRESS_EVERY_MS };
    const from = this.lastOffset === undefined ? 'first' : this.lastOffset + 1;
    try {
      alive();
      await reader.consume(
        this.stream,
        (msg) => {
          if (!this.upToDate) {
            alive();
            progress.read++;
            if (Date.now() >= progress.at) {
              progress.at = Date.now() + PROGRESS_EVERY_MS;
              this.options.log.info({ stream: this.stream, read: progress.read }, 'revocations loading');
            }
          }
          // One acknowledgement for many: a frame per entry would halve the load rate.
          if (msg && (++unacked >= ACK_EVERY || 'x-herald-marker' in (msg.properties.headers ?? {}))) {
            reader.ack(msg, true);
            unacked = 0;
          }
          this.read(table, msg, marker, caughtUp);
        },
        { noAck: false, arguments: { 'x-stream-offset': from } },
      );
      await append(live.writer, this.stream, Buffer.alloc(0), { headers: { 'x-herald-marker': marker } });
      await loaded;
    } catch (error) {
      // A failed load must not leave a reader consuming the whole stream behind the retry.
      await reader.close().catch(() => {});
      throw error;
    } finally {
      clearTimeout(deadline);
    }
    this.loaded = true;
    this.upToDate = true;
    // Later losses of the connection: not current until the reader has caught up again, after the last entry read.
    reader.once('close', () => {
      this.upToDate = false;
      if (!this.closed) restartLater(() => this.start(table), { retryMs: this.options.retryMs, stopped: () => this.closed });
    });
  }

  private read(table: Revocations, msg: ConsumeMessage | null, marker: string, caughtUp: () => void) {
    if (msg === null) return;
    const headers = msg.properties.headers ?? {};
    const offset = headers['x-stream-offset'];
    if (typeof offset === 'number') this.lastOffset = offset;
    if ('x-herald-marker' in headers) {
      if (headers['x-herald-marker'] === marker) caughtUp();
      return;
    }
    try {
      const entry = JSON.parse(msg.content.toString()) as StreamEntry;
      const idOk = (id: unknown) => id === undefined || typeof id === 'string';
      if (typeof entry.revokedAt !== 'number' || !idOk(entry.userId) || !idOk(entry.sessionId) || (entry.userId ?? entry.sessionId) === undefined) {
        throw new Error('not a revocation');
      }
      if (entry.keepUntil <= Date.now()) return;
      table.apply({
        userId: entry.userId,
        sessionId: entry.sessionId,
        revokedAt: entry.revokedAt,
        calledAt: entry.calledAt ?? entry.revokedAt,
        user: entry.user ?? entry.sessionId === undefined,
      });
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
      await this.declareStream(connection);
      const writer = await connection.createConfirmChannel();
      writer.on('error', (error: Error) => log.warn({ err: error }, 'revocation store channel error'));
      await writer.checkQueue(this.stream);
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

  /**
   * Declares the stream with a max age from the keep. A stream declared before with other
   * arguments (an older max age) is used as it is: RabbitMQ refuses to redeclare it, and only a
   * policy can change its max age (docs/amqp.md).
   */
  private async declareStream(connection: ChannelModel): Promise<void> {
    const maxAge = streamMaxAge(this.keepMs);
    const channel = await connection.createChannel();
    channel.on('error', () => {});
    try {
      await channel.assertQueue(this.stream, {
        durable: true,
        arguments: {
          'x-queue-type': 'stream',
          'x-max-age': maxAge,
          // Small segments, so the age limit drops old entries soon after they pass it.
          'x-stream-max-segment-size-bytes': 1_000_000,
        },
      });
      await channel.close().catch(() => {});
    } catch (error) {
      if ((error as { code?: number }).code !== 406) throw error;
      this.options.log.warn(
        { stream: this.stream, wanted: maxAge },
        'the revocation stream exists with other arguments; it keeps its max age (set one with a policy if it is shorter than the longest token lifetime)',
      );
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
