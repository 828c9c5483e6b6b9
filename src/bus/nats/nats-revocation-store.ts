import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KV, type KvWatchEntry } from '@nats-io/kv';
import type { QueuedIterator } from '@nats-io/transport-node';
import type { RevocationStore } from '../../auth/revocation-store.js';
import type { Revocations } from '../../auth/revocations.js';
import { BusUnavailableError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { restartLater, retryUntilDone } from '../retry.js';
import type { NatsBus } from './nats-bus.js';

export const DEFAULT_REVOCATION_BUCKET = 'herald_revocations';

export interface NatsRevocationStoreOptions {
  /** The started NATS bus whose connection the store shares. */
  bus: NatsBus;
  log: Logger;
  bucket?: string;
  /** Milliseconds between attempts while JetStream is unavailable. */
  retryMs?: number;
}

interface StoredRevocation {
  userId: string;
  revokedAt: number;
}

const encoder = new TextEncoder();
/** Past this, start() resolves even if the watcher never said it caught up (an emptied bucket). */
const CATCH_UP_FALLBACK_MS = 2_000;

/**
 * Revocations in a NATS JetStream key-value bucket: one key per user (the latest revocation
 * wins), a bucket TTL of the longest token lifetime (it only grows), and a watcher that
 * copies every entry into the pod's in-memory table.
 */
export class NatsRevocationStore implements RevocationStore {
  readonly name = 'nats-kv';
  private readonly bucket: string;
  private kv: KV | undefined;
  private jsm: JetStreamManager | undefined;
  private ttlMs = 0;
  private watcher: QueuedIterator<KvWatchEntry> | undefined;
  private lastRevision = 0;
  private closed = false;

  constructor(private readonly options: NatsRevocationStoreOptions) {
    this.bucket = options.bucket ?? DEFAULT_REVOCATION_BUCKET;
  }

  /** Not ready until loaded: a pod that cannot know old revocations must not accept sockets. */
  async start(table: Revocations): Promise<void> {
    await retryUntilDone(
      async () => {
        await this.open(table.keepMs);
        await this.follow(table);
        return { revocations: table.size, ttlMs: this.ttlMs };
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

  async record(userId: string, revokedAtMs: number, keepMs: number): Promise<void> {
    if (this.closed || !this.options.bus.up) throw new BusUnavailableError('the revocation store is unavailable');
    const value: StoredRevocation = { userId, revokedAt: revokedAtMs };
    try {
      // A publisher-only client records without ever loading the table.
      if (!this.kv) await this.open(keepMs);
      if (keepMs > this.ttlMs) await this.growTtl(keepMs);
      await this.kv!.put(keyOf(userId), encoder.encode(JSON.stringify(value)));
    } catch (error) {
      throw new BusUnavailableError('the revocation could not be stored', { cause: error });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.watcher?.stop();
  }

  private async open(keepMs: number): Promise<void> {
    if (this.kv) return;
    const nc = this.options.bus.connection;
    const kvm = new Kvm(nc);
    const config = { history: 1, ttl: keepMs, description: 'Herald: user revocations (POST /v1/users/{id}/disconnect)' };
    let kv: KV;
    try {
      // Three copies where the JetStream cluster allows it, so losing one node loses nothing.
      kv = await kvm.create(this.bucket, { ...config, replicas: 3 });
    } catch {
      kv = await kvm.create(this.bucket, { ...config, replicas: 1 });
    }
    const status = await kv.status();
    this.ttlMs = status.ttl;
    this.jsm = await jetstreamManager(nc);
    this.kv = kv;
  }

  /** Starts the watcher and resolves once it has delivered every entry the bucket held. */
  private async follow(table: Revocations): Promise<void> {
    const kv = this.kv!;
    const { values } = await kv.status();
    const watcher = await kv.watch(this.lastRevision > 0 ? { resumeFromRevision: this.lastRevision + 1 } : {});
    this.watcher = watcher;
    let caughtUp: () => void = () => {};
    const ready = new Promise<void>((resolve) => (caughtUp = resolve));
    if (values === 0) caughtUp();
    const fallback = setTimeout(caughtUp, CATCH_UP_FALLBACK_MS);
    void (async () => {
      try {
        for await (const entry of watcher) {
          this.lastRevision = entry.revision;
          if (entry.operation === 'PUT') this.apply(table, entry);
          if (entry.isUpdate) caughtUp();
        }
      } catch (error) {
        // Ends like a closed watcher: logged, then resumed below. Never an unhandled rejection.
        this.options.log.warn({ err: error, bucket: this.bucket }, 'revocation watcher failed');
      }
      // The watcher ended without close(): the consumer is gone. Resume after the last entry seen.
      if (!this.closed) {
        this.options.log.warn({ bucket: this.bucket }, 'revocation watcher ended; restarting it');
        restartLater(() => this.start(table), this.retry);
      }
    })();
    await ready;
    clearTimeout(fallback);
  }

  private apply(table: Revocations, entry: KvWatchEntry): void {
    try {
      const { userId, revokedAt } = entry.json<StoredRevocation>();
      if (typeof userId !== 'string' || typeof revokedAt !== 'number') throw new Error('not a revocation');
      table.revoke(userId, revokedAt);
    } catch (error) {
      this.options.log.warn({ err: error, key: entry.key }, 'unreadable revocation entry ignored');
    }
  }

  /** A token lifetime longer than the bucket's TTL was seen: keep every revocation that long. */
  private async growTtl(keepMs: number): Promise<void> {
    const stream = `KV_${this.bucket}`;
    await this.jsm!.streams.update(stream, { max_age: keepMs * 1_000_000 });
    this.ttlMs = keepMs;
    this.options.log.info({ bucket: this.bucket, ttlMs: keepMs }, 'revocation bucket TTL raised');
  }
}

/** KV keys allow [-/_=.A-Za-z0-9]; user ids may hold anything, so the key is their base64url. */
function keyOf(userId: string): string {
  return Buffer.from(userId, 'utf8').toString('base64url');
}
