import { DeliverPolicy, type ConsumerMessages, type JetStreamClient, type JsMsg } from '@nats-io/jetstream';
import type { Logger } from '../../log.js';
import { sleep } from '../retry.js';

export interface StreamReaderOptions {
  stream: string;
  /** Only these subjects (one filter: nats-server 2.9 takes no more). */
  filterSubject?: string;
  /** Messages per pull. */
  batch: number;
  log: Logger;
  /** Logged with every line. */
  context: Record<string, unknown>;
}

/** Between attempts to recreate the reader while JetStream does not answer. */
const RETRY_MS = 1_000;
/**
 * How long a pull waits on the server. The server's heartbeats come at half of it, and two
 * missed ones make the reader start over: a consumer lost with a dead node is noticed in ~5 s,
 * not the client's default 30.
 */
const PULL_EXPIRES_MS = 5_000;

/**
 * Reads a JetStream stream in order from its first message, once each, for as long as it is open: an ordered consumer
 * that this reader recreates itself, after the last sequence it delivered, whenever nats.js says
 * it recreated its own (after a reconnect that lost the server-side consumer). nats.js 3.4 keeps
 * the old pull's pending count across its recreation, so its new consumer gets one message per
 * pull expiry (30 s) — a pod back from a partition would read its backlog at that pace.
 */
export class StreamReader {
  /** The stream sequence of the last message delivered. */
  lastSeq = 0;
  private messages: ConsumerMessages | undefined;
  private stopped = false;
  private restarting = false;
  private ended!: () => void;
  /** Resolves when the reader stopped for good without `close` (the stream is gone). */
  readonly gone = new Promise<void>((resolve) => (this.ended = resolve));

  constructor(
    private readonly js: JetStreamClient,
    private readonly options: StreamReaderOptions,
    private readonly onMessage: (msg: JsMsg) => void,
  ) {}

  /** Creates the consumer and starts delivering; rejects when the consumer cannot be created. */
  async start(): Promise<void> {
    const { stream, filterSubject, batch } = this.options;
    const consumer = await this.js.consumers.get(stream, {
      ...(filterSubject ? { filter_subjects: filterSubject } : {}),
      ...(this.lastSeq > 0
        ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: this.lastSeq + 1 }
        : { deliver_policy: DeliverPolicy.All }),
    });
    if (this.stopped) return;
    const messages = await consumer.consume({
      max_messages: batch,
      expires: PULL_EXPIRES_MS,
      callback: (msg) => {
        // A recreated consumer may deliver again what the one before it did.
        if (msg.seq <= this.lastSeq) return;
        this.lastSeq = msg.seq;
        this.onMessage(msg);
      },
    });
    this.messages = messages;
    void this.watch(messages);
  }

  /** Starts over after the last message delivered (the connection came back). */
  restartNow(): void {
    if (this.messages) void this.restart(this.messages);
  }

  async close(): Promise<void> {
    this.stopped = true;
    await this.messages?.close().catch(() => {});
  }

  private async watch(messages: ConsumerMessages): Promise<void> {
    const { log, context } = this.options;
    for await (const status of messages.status()) {
      if (status.type === 'ordered_consumer_recreated') {
        log.info({ ...context, lastSeq: this.lastSeq }, 'stream reader recreated by the client; recreating it after the last message read');
        void this.restart(messages);
      } else if (status.type === 'heartbeats_missed') {
        // The server side of the reader is gone (a node died, a partition): start over after the last message read.
        log.warn({ ...context, missed: status.count, lastSeq: this.lastSeq }, 'stream reader missed heartbeats; recreating it');
        void this.restart(messages);
      }
      else if (status.type === 'stream_not_found') log.error({ ...context }, 'the stream is gone');
    }
    if (!this.stopped && !this.restarting && this.messages === messages) this.ended();
  }

  private async restart(previous: ConsumerMessages): Promise<void> {
    if (this.restarting || this.stopped || this.messages !== previous) return;
    this.restarting = true;
    await previous.close().catch(() => {});
    while (!this.stopped) {
      try {
        await this.start();
        break;
      } catch (error) {
        this.options.log.warn({ ...this.options.context, err: error }, 'cannot recreate the stream reader; retrying');
        await sleep(RETRY_MS);
      }
    }
    this.restarting = false;
  }
}
