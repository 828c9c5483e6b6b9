import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { RevocationStore, StoredRevocation } from '../../auth/revocation-store.js';
import type { Revocation, Revocations } from '../../auth/revocations.js';
import { BusUnavailableError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { restartLater, retryUntilDone } from '../retry.js';
import type { NatsBus } from './nats-bus.js';
import { StreamReader } from './stream-reader.js';

export const DEFAULT_REVOCATION_BUCKET = 'herald_revocations';

export interface NatsRevocationStoreOptions {
  /** The started NATS bus whose connection the store shares. */
  bus: NatsBus;
  log: Logger;
  bucket?: string;
  /** Milliseconds between attempts while JetStream is unavailable. */
  retryMs?: number;
  /**
   * The longest keep any configuration allows (ms): a bucket TTL above it can only come from a
   * bug (a token once set it), and a pod brings it back to its own keep.
   */
  maxKeepMs?: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** While loading, how often the store says how far it got. */
const PROGRESS_EVERY_MS = 5_000;
/** Attempts at a compare-and-set before a write gives up (only concurrent writers of one key retry). */
const MAX_WRITE_ATTEMPTS = 10;

/**
 * Revocations in a NATS JetStream key-value bucket: one key per scope (a user, a session of a
 * user, a session id), holding the latest instants written for it (writes compare and set, so
 * an earlier instant never overwrites a later one), a TTL fixed by configuration (the longest
 * token lifetime plus the skew: nothing a token says changes it), and an ordered consumer that
 * copies every entry into the pod's table. The pod is not current until that reader has reached
 * the bucket's last entry — at start, and again after every reconnect — however long it takes.
 */
export class NatsRevocationStore implements RevocationStore {
  readonly name = 'nats-kv';
  private readonly bucket: string;
  private readonly stream: string;
  private kv: KV | undefined;
  private jsm: JetStreamManager | undefined;
  private js: JetStreamClient | undefined;
  private reader: StreamReader | undefined;
  /** Catch-ups waiting for the reader to reach a stream sequence. */
  private waiters: { seq: number; reached: (drained: boolean) => void }[] = [];
  private loaded = false;
  private upToDate = false;
  private following = false;
  private closed = false;

  constructor(private readonly options: NatsRevocationStoreOptions) {
    this.bucket = options.bucket ?? DEFAULT_REVOCATION_BUCKET;
    this.stream = `KV_${this.bucket}`;
  }

  get current(): boolean {
    return this.loaded && this.upToDate && !this.closed;
  }

  /** Not ready until loaded: a pod that cannot know old revocations must not accept sockets. */
  async start(table: Revocations): Promise<void> {
    if (!this.following) {
      this.following = true;
      this.options.bus.onStatus((up) => {
        if (!up) this.upToDate = false;
        else if (this.loaded) void this.catchUp('after a reconnect');
      });
    }
    const started = Date.now();
    await retryUntilDone(
      async () => {
        await this.open(table.keepMs, true);
        await this.follow(table);
        return { revocations: table.size, ms: Date.now() - started };
      },
      'revocations loaded',
      {
        ...this.retry,
        context: { bucket: this.bucket },
        failure: 'cannot load revocations from JetStream (is nats-server running with -js?); retrying',
      },
    );
  }

  private get retry() {
    return { retryMs: this.options.retryMs, stopped: () => this.closed, log: this.options.log };
  }

  async record(revocation: Revocation, keepMs: number): Promise<void> {
    if (this.closed || !this.options.bus.up) throw new BusUnavailableError('the revocation store is unavailable');
    try {
      // A publisher-only client records without ever loading the table.
      await this.open(keepMs, false);
      await this.write(revocation);
    } catch (error) {
      throw new BusUnavailableError('the revocation could not be stored', { cause: error });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.reader?.close();
  }

  /** The last stream sequence read into the table. */
  private get lastSeq(): number {
    return this.reader?.lastSeq ?? 0;
  }

  /** The bucket, created with the keep as its TTL; a pod also brings a TTL below its keep (or beyond any keep) to its keep. */
  private async open(keepMs: number, adjust: boolean): Promise<void> {
    if (this.kv) return;
    const nc = this.options.bus.connection;
    const kvm = new Kvm(nc);
    const config = { history: 1, ttl: keepMs, description: 'Herald: revocations (user disconnects, session logouts)' };
    let kv: KV;
    try {
      // Three copies where the JetStream cluster allows it, so losing one node loses nothing.
      kv = await kvm.create(this.bucket, { ...config, replicas: 3 });
    } catch {
      kv = await kvm.create(this.bucket, { ...config, replicas: 1 });
    }
    const jsm = await jetstreamManager(nc);
    if (adjust) {
      const { config: current } = await jsm.streams.info(this.stream);
      const wanted = keepMs * 1_000_000;
      const maxKeepNs = (this.options.maxKeepMs ?? Number.POSITIVE_INFINITY) * 1_000_000;
      if (current.max_age < wanted || current.max_age > maxKeepNs) {
        await jsm.streams.update(this.stream, { max_age: wanted });
        this.options.log.info({ bucket: this.bucket, fromMs: current.max_age / 1_000_000, ttlMs: keepMs }, 'revocation bucket TTL set from the configuration');
      }
    }
    this.jsm = jsm;
    this.js = jetstream(nc);
    this.kv = kv;
  }

  /** Keeps the latest instants of the scope: create, or compare and set over what is there. */
  private async write(revocation: Revocation): Promise<void> {
    const kv = this.kv!;
    const key = keyOf(revocation);
    for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
      try {
        await kv.create(key, encode(revocation));
        return;
      } catch (error) {
        if (!isWrongLastSequence(error)) throw error;
      }
      const entry = await kv.get(key);
      if (!entry || entry.operation !== 'PUT') continue;
      const stored = decode(entry.value);
      const merged: Revocation = {
        ...revocation,
        revokedAt: Math.max(revocation.revokedAt, stored?.revokedAt ?? 0),
        calledAt: Math.max(revocation.calledAt, stored?.calledAt ?? 0),
        user: revocation.user || (stored?.user ?? false),
      };
      if (stored && stored.revokedAt === merged.revokedAt && stored.calledAt === merged.calledAt && stored.user === merged.user) return;
      try {
        await kv.update(key, encode(merged), entry.revision);
        return;
      } catch (error) {
        if (!isWrongLastSequence(error)) throw error;
      }
    }
    throw new Error(`the revocation of key ${key} kept changing under ${MAX_WRITE_ATTEMPTS} attempts`);
  }

  /**
   * Reads the bucket's stream in order into the table — every key's latest entry at first, then
   * every new write, resuming after the last one read when the reader is recreated — and
   * resolves once it has read up to the stream's last entry as it stood when it began.
   */
  private async follow(table: Revocations): Promise<void> {
    if (this.reader) {
      // Started again after the reader stopped: a new one, after the last entry read.
      const lastSeq = this.reader.lastSeq;
      await this.reader.close();
      this.reader = this.newReader(table);
      this.reader.lastSeq = lastSeq;
    } else {
      this.reader = this.newReader(table);
    }
    const reader = this.reader;
    await reader.start();
    void reader.gone.then(() => {
      if (this.closed || this.reader !== reader) return;
      this.upToDate = false;
      this.options.log.warn({ bucket: this.bucket }, 'revocation reader ended; restarting it');
      restartLater(() => this.start(table), this.retry);
    });
    await this.catchUp(this.loaded ? 'after a restart of the reader' : 'at start');
    this.loaded = true;
  }

  /**
   * Every message of the bucket's stream, not each key's last: with history 1 they are the same
   * set, and nats-server 2.9 finds each key's last at a cost that grows with the keys (10^6
   * entries: 489 s instead of 16 s, bench/revocation-load.ts). Older revisions of a bucket with
   * more history would be harmless: the table keeps the latest instants.
   */
  private newReader(table: Revocations): StreamReader {
    let progressAt = Date.now() + PROGRESS_EVERY_MS;
    let read = 0;
    return new StreamReader(
      this.js!,
      {
        stream: this.stream,
        filterSubject: `$KV.${this.bucket}.>`,
        batch: 10_000,
        log: this.options.log,
        context: { bucket: this.bucket },
      },
      (msg) => {
        this.apply(table, msg);
        read++;
        if (this.waiters.length > 0) this.wake(msg.info.pending === 0);
        if (!this.loaded && Date.now() >= progressAt) {
          progressAt = Date.now() + PROGRESS_EVERY_MS;
          this.options.log.info({ bucket: this.bucket, read, pending: msg.info.pending }, 'revocations loading');
        }
      },
    );
  }

  /** Not current until the reader has read the stream's last entry (as it stands now). */
  private async catchUp(why: string): Promise<void> {
    this.upToDate = false;
    let target: number;
    try {
      target = await this.lastEntry();
      while (this.lastSeq < target) {
        // The reader says it has nothing more (the consumer's pending count is 0), or it passed the target.
        const drained = await new Promise<boolean>((resolve) => {
          const waiter = { seq: target, reached: resolve };
          this.waiters.push(waiter);
          // Now and then ask again: entries can expire while the reader gets there.
          setTimeout(() => {
            this.waiters = this.waiters.filter((w) => w !== waiter);
            resolve(false);
          }, PROGRESS_EVERY_MS).unref?.();
        });
        if (this.closed) return;
        if (drained || (this.lastSeq < target && (await this.lastEntry()) === 0)) break;
      }
    } catch (error) {
      if (!this.loaded) throw error;
      this.options.log.warn({ err: error, bucket: this.bucket, why }, 'cannot tell whether the revocations are current; asking again');
      restartLater(() => this.catchUp(why), this.retry);
      return;
    }
    this.upToDate = true;
    if (this.loaded) this.options.log.info({ bucket: this.bucket, why, lastSeq: this.lastSeq }, 'revocations current again');
  }

  /** The stream sequence of the bucket's newest entry; 0 when it holds none (an expired entry is the oldest: if the newest is gone, all are). */
  private async lastEntry(): Promise<number> {
    const { state } = await this.jsm!.streams.info(this.stream);
    return state.messages === 0 ? 0 : state.last_seq;
  }

  private wake(caughtUp: boolean): void {
    const still: typeof this.waiters = [];
    for (const waiter of this.waiters) {
      if (caughtUp || this.lastSeq >= waiter.seq) waiter.reached(caughtUp);
      else still.push(waiter);
    }
    this.waiters = still;
  }

  private apply(table: Revocations, msg: JsMsg): void {
    const operation = msg.headers?.get('KV-Operation');
    if (operation === 'DEL' || operation === 'PURGE') return;
    const stored = decode(msg.data);
    if (!stored) {
      this.options.log.warn({ subject: msg.subject }, 'unreadable revocation entry ignored');
      return;
    }
    table.apply({
      userId: stored.userId,
      sessionId: stored.sessionId,
      revokedAt: stored.revokedAt,
      calledAt: stored.calledAt ?? stored.revokedAt,
      user: stored.user ?? stored.sessionId === undefined,
    });
  }
}

/**
 * KV keys allow [-/_=.A-Za-z0-9]; ids may hold anything else, so each is its base64url. A user's
 * key is that alone (as before sessions were kept); a session's is `s.<user>.<session>`, with
 * `_` for "every user" (never a base64url of a non-empty id).
 */
function keyOf({ userId, sessionId }: Pick<Revocation, 'userId' | 'sessionId'>): string {
  const b64 = (id: string) => Buffer.from(id, 'utf8').toString('base64url');
  if (sessionId === undefined) return b64(userId!);
  return `s.${userId === undefined ? '_' : b64(userId)}.${b64(sessionId)}`;
}

function encode({ userId, sessionId, revokedAt, calledAt, user }: Revocation): Uint8Array {
  const stored: StoredRevocation = { userId, sessionId, revokedAt, calledAt, user };
  return encoder.encode(JSON.stringify(stored));
}

function decode(bytes: Uint8Array): StoredRevocation | undefined {
  try {
    const value = JSON.parse(decoder.decode(bytes)) as StoredRevocation;
    const idOk = (id: unknown) => id === undefined || typeof id === 'string';
    if (typeof value.revokedAt !== 'number' || !idOk(value.userId) || !idOk(value.sessionId)) return undefined;
    if (value.userId === undefined && value.sessionId === undefined) return undefined;
    return value;
  } catch {
    return undefined;
  }
}

function isWrongLastSequence(error: unknown): boolean {
  const e = error as { code?: number; api_error?: { err_code?: number }; message?: string };
  return e?.api_error?.err_code === 10071 || e?.code === 10071 || /wrong last sequence/i.test(e?.message ?? '');
}
