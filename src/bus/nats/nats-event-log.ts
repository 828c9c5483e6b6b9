import { createHash } from 'node:crypto';
import {
  DeliverPolicy,
  DiscardPolicy,
  jetstream,
  jetstreamManager,
  StorageType,
  type JetStreamClient,
  type JetStreamManager,
  type StreamInfo,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { BusUnavailableError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { packBundles } from '../../protocol/bus-format.js';
import type { EventLogInfo } from '../../recovery/recovery.js';
import type { BusMessageHandler } from '../bus.js';
import { StreamReader } from './stream-reader.js';

export interface NatsEventLogOptions {
  /** HERALD_NATS_STREAM. */
  stream: string;
  /** The events subject the stream captures (HERALD_NATS_SUBJECT). */
  subject: string;
  /** HERALD_RECOVERY_WINDOW_S: the stream's max age. */
  windowS: number;
  /** The stream's byte limit (oldest out first). */
  maxBytes: number;
  /** A pod brings an existing stream's limits in line with its own; a publisher leaves them. */
  adjustLimits: boolean;
  log: Logger;
}

/** How long a publish waits for JetStream to say the message is stored. */
const PUBLISH_ACK_TIMEOUT_MS = 5_000;

/**
 * The event log on NATS (§6): a JetStream stream over the events subject. Publishes are
 * stored before they resolve (a 202 means stored); each pod reads the stream with an ordered
 * consumer, so every pod sees every message in one order, with its stream sequence as its
 * position, and a pod that was cut off resumes from where it stopped. What one task publishes
 * (one event-loop turn while earlier stores await their acks) is stored as few messages as the
 * broker's limit allows (bundles).
 */
export class NatsEventLog {
  private readonly js: JetStreamClient;
  private jsm: JetStreamManager | undefined;
  private reader: StreamReader | undefined;
  private pending: { messages: Uint8Array[]; resolve: () => void; reject: (error: unknown) => void }[] = [];
  private flushScheduled = false;
  /** Stores sent and not yet acknowledged. */
  private storing = 0;
  private stopped = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly options: NatsEventLogOptions,
  ) {
    this.js = jetstream(nc, { timeout: PUBLISH_ACK_TIMEOUT_MS });
  }

  /** Creates the stream, or brings its limits in line with this pod's configuration. */
  async open(): Promise<StreamInfo> {
    const { stream, subject, windowS, maxBytes, log } = this.options;
    this.jsm ??= await jetstreamManager(this.nc);
    const config = {
      name: stream,
      subjects: [subject],
      max_age: windowS * 1_000_000_000,
      max_bytes: maxBytes,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      description: 'Herald: the event log (recovery, contract §6)',
    };
    let info: StreamInfo;
    try {
      info = await this.jsm.streams.info(stream);
      const current = info.config;
      if (this.options.adjustLimits && (current.max_age !== config.max_age || current.max_bytes !== config.max_bytes || !current.subjects?.includes(subject))) {
        info = await this.jsm.streams.update(stream, { ...current, ...config, subjects: [subject] });
        log.info({ stream, maxAgeS: windowS, maxBytes }, 'event log stream limits updated');
      }
    } catch (error) {
      if (!isStreamNotFound(error)) throw error;
      try {
        // Three copies where the JetStream cluster allows it, so losing one node loses nothing
        // and the log stays writable; a single server takes one.
        info = await this.jsm.streams.add({ ...config, num_replicas: 3 });
      } catch {
        info = await this.jsm.streams.add({ ...config, num_replicas: 1 });
      }
      log.info({ stream, subject, maxAgeS: windowS, maxBytes }, 'event log stream created');
    }
    return info;
  }

  /** The log's identity for clients: the same on every pod, new when the stream is recreated. */
  static describe(info: StreamInfo): EventLogInfo {
    const epoch = createHash('sha256').update(`${info.config.name}\n${info.created}`).digest('base64url').slice(0, 16);
    const first = info.state.first_seq;
    // Everything before the first stored message is gone (expired, or before the stream).
    return { epoch, coveredAfter: first > 1 ? (first - 1) * 1024 + 1023 : 0 };
  }

  /**
   * Reads the stream from its first message on, in order, for as long as the log is open.
   * Resolves once it has delivered every message stored when it began: the pod is warm.
   */
  async follow(info: StreamInfo, onMessage: BusMessageHandler): Promise<void> {
    const lastAtStart = info.state.last_seq;
    let warm!: () => void;
    const warmed = new Promise<void>((resolve) => (warm = resolve));
    if (info.state.messages === 0) warm();
    const { stream, log } = this.options;
    this.reader = new StreamReader(
      this.js,
      { stream, batch: 1_000, log, context: { stream } },
      (msg) => {
        onMessage(msg.data, msg.seq);
        if (msg.seq >= lastAtStart) warm();
      },
    );
    await this.reader.start();
    void this.reader.gone.then(() => log.error({ stream }, 'the event log reader stopped'));
    await warmed;
  }

  /**
   * Reads stored messages `from`…`to` (stream sequences) in order, for a resume older than what
   * a pod's memory holds. False when the stream no longer holds `from` (expired). At most
   * `maxMessages` are read; past that it stops and answers false.
   */
  async read(
    from: number,
    to: number,
    each: (msg: Uint8Array, position: number) => void,
    maxMessages: number,
  ): Promise<boolean> {
    if (to < from) return true;
    if (to - from + 1 > maxMessages) return false;
    const info = await this.jsm!.streams.info(this.options.stream);
    if (info.state.first_seq > from) return false;
    const consumer = await this.js.consumers.get(this.options.stream, {
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: from,
    });
    try {
      let next = from;
      while (next <= to) {
        const batch = await consumer.fetch({ max_messages: Math.min(1_000, to - next + 1), expires: 5_000 });
        let got = 0;
        for await (const msg of batch) {
          got++;
          // A gap in sequences: messages expired or were deleted under the reader.
          if (msg.seq !== next && msg.seq > next) return false;
          if (msg.seq > to) return true;
          each(msg.data, msg.seq);
          next = msg.seq + 1;
        }
        if (got === 0) return false;
      }
      return true;
    } finally {
      await consumer.delete().catch(() => {});
    }
  }

  /** Stores one request's messages; resolves once JetStream has them. */
  append(messages: Uint8Array[]): Promise<void> {
    if (this.stopped) return Promise.reject(new BusUnavailableError('the event log is closed'));
    return new Promise((resolve, reject) => {
      this.pending.push({ messages, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        // A quiet log stores when this task ends (no wait for the loop's turn); while earlier
        // stores await their acks, the load is up and the rest of the turn's appends join this one.
        if (this.storing === 0) queueMicrotask(() => this.flush());
        else setImmediate(() => this.flush());
      }
    });
  }

  /** After a reconnect: the reader starts over after the last message it delivered. */
  resumeReading(): void {
    this.reader?.restartNow();
  }

  async close(): Promise<void> {
    this.stopped = true;
    await this.reader?.close();
  }

  /** Everything appended since the last flush, stored as few messages as fit. */
  private flush(): void {
    this.flushScheduled = false;
    const batch = this.pending;
    this.pending = [];
    const limit = this.nc.info?.max_payload ?? 1024 * 1024;
    const all = batch.length === 1 ? batch[0]!.messages : batch.flatMap((request) => request.messages);
    const stored = packBundles(all, limit);
    // Published in order without waiting in between: JetStream keeps the order of one connection.
    const acks = stored.map((msg) => this.js.publish(this.options.subject, msg));
    this.storing++;
    Promise.all(acks).then(
      () => {
        this.storing--;
        for (const request of batch) request.resolve();
      },
      (error: unknown) => {
        this.storing--;
        const failure = new BusUnavailableError('the event log did not store the message', { cause: error });
        for (const request of batch) request.reject(failure);
      },
    );
  }
}

function isStreamNotFound(error: unknown): boolean {
  const e = error as { code?: number; api_error?: { err_code?: number }; message?: string };
  return e?.api_error?.err_code === 10059 || /stream not found/i.test(e?.message ?? '');
}
