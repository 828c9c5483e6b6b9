import type { Bus } from '../bus/bus.js';
import type { Metrics } from '../metrics.js';
import { frameWithSeq } from '../protocol/client-frames.js';
import { readMissedFromLog, type MissedFromLog } from './log-reader.js';
import { RecentEvents, type KeptEvent, type RecentEvent } from './recent-events.js';
import type { Since } from './since.js';

/** What a bus that keeps an event log says about it before it delivers the first message. */
export interface EventLogInfo {
  /** The log's name: a `seq` means something only within its epoch. */
  epoch: string;
  /** Events at or before this position are gone from the log (expired, or before it existed). */
  coveredAfter: number;
}

/** What a socket's welcome says about the log, and the missed events to send after it. */
export interface Resume<Frame> {
  welcome: { epoch?: string; seq?: number; gap?: boolean; replayed?: number };
  events: readonly KeptEvent<Frame>[];
}

export interface RecoveryOptions<Frame> {
  windowMs: number;
  maxBytes: number;
  metrics: Metrics;
  /** A resume that would replay more events than this is a gap: the client reloads instead. */
  maxReplayEvents?: number;
  /** Upgrades that may wait at once for this pod to reach their `since` (503 past it). */
  maxWaiting?: number;
  /** The bus's log reader, where the log outlives a pod's memory (NATS): older resumes are read from it. */
  readLog?: Bus['readLog'];
  /** Turns a frame (its text or UTF-8 bytes, `seq` included) into what the engine sends: `Engine.prepareFrame`. */
  prepareFrame: (frame: string | Uint8Array) => Frame;
}

/** Resumes read from the log at once; more wait their turn, and past the queue they get 503. */
const LOG_READS_AT_ONCE = 4;
const LOG_READS_QUEUED = 64;

const DEFAULT_MAX_REPLAY_EVENTS = 10_000;
const DEFAULT_MAX_WAITING = 1_000;

/**
 * A pod's view of the event log (§6): its position (the last `seq` it routed), the recent
 * events by user, and the answer to a resume. Fed by the router in log order; asked by the
 * socket lifecycle at open, synchronously, so that no live event slips between the replay and
 * the subscription.
 */
export class Recovery<Frame> {
  private log: EventLogInfo | undefined;
  private index: RecentEvents<Frame>;
  private current = 0;
  private waiters: { seq: number; resolve: (reached: boolean) => void }[] = [];
  private readonly maxReplayEvents: number;
  private readonly maxWaiting: number;
  private logReads = 0;
  private logQueue: (() => void)[] = [];

  constructor(private readonly options: RecoveryOptions<Frame>) {
    this.index = this.newIndex(0);
    this.maxReplayEvents = options.maxReplayEvents ?? DEFAULT_MAX_REPLAY_EVENTS;
    this.maxWaiting = options.maxWaiting ?? DEFAULT_MAX_WAITING;
  }

  /** The bus opened its log (at start, or again after the log was recreated): a new index. */
  opened(log: EventLogInfo): void {
    if (this.log && this.log.epoch === log.epoch) return;
    this.log = log;
    this.index = this.newIndex(log.coveredAfter);
    this.current = log.coveredAfter;
  }

  get epoch(): string | undefined {
    return this.log?.epoch;
  }

  /** The last `seq` this pod routed: every later event for a socket opened now reaches it. */
  get position(): number {
    return this.current;
  }

  /** The hot path's one call per event: keeps it for resumes and moves the position. */
  record(event: RecentEvent): void {
    this.index.append(event);
    this.advance(event.seq);
  }

  /** A message that is not an event (a control message) still moves the position. */
  advance(seq: number): void {
    if (seq <= this.current) return;
    if (this.lostBefore(seq)) this.index = this.newIndex(seq - 1);
    this.current = seq;
    if (this.waiters.length > 0) this.wake();
  }

  /** Drops what aged out while no event came: called by the pod's one-second tick. */
  sweep(nowMs: number): void {
    this.index.evict(nowMs);
  }

  /**
   * Waits (bounded) until this pod has routed up to `seq`, for a client that saw an event on a
   * pod further ahead. False when it did not get there in time; refused when too many wait.
   */
  reach(seq: number, timeoutMs: number): Promise<boolean> | 'too_many' {
    if (seq <= this.current) return Promise.resolve(true);
    if (this.waiters.length >= this.maxWaiting) return 'too_many';
    return new Promise((resolve) => {
      const waiter = {
        seq,
        resolve: (reached: boolean) => {
          clearTimeout(timer);
          resolve(reached);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /**
   * For a resume older than this pod's memory: the missed events read from the log, up to the
   * current position (the index serves the rest at open). Undefined when not needed or not
   * possible; 'too_many' when too many such reads are waiting.
   */
  async fromLog(userId: string, sessionId: string, since: Since): Promise<MissedFromLog<Frame> | undefined | 'too_many'> {
    const { readLog, prepareFrame } = this.options;
    if (!readLog || since.epoch !== this.log?.epoch || since.seq >= this.index.coveredAfter) return undefined;
    if (this.logReads >= LOG_READS_AT_ONCE) {
      if (this.logQueue.length >= LOG_READS_QUEUED) return 'too_many';
      await new Promise<void>((resolve) => this.logQueue.push(resolve));
    }
    this.logReads++;
    try {
      const prepare = (frame: string | Uint8Array, seq: number) => prepareFrame(frameWithSeq(frame, seq));
      return await readMissedFromLog(readLog, { userId, sessionId }, since.seq, this.current, prepare);
    } catch {
      return undefined; // The log could not be read now: the resume is a gap.
    } finally {
      this.logReads--;
      this.logQueue.shift()?.();
    }
  }

  /**
   * The welcome's log fields and the events to replay for a socket opening now. `fromLog` is
   * what `fromLog` read during the upgrade, if the resume needed it.
   */
  resume(userId: string, sessionId: string, since: Since | undefined, fromLog?: MissedFromLog<Frame>): Resume<Frame> {
    const epoch = this.log?.epoch;
    if (epoch === undefined) {
      // The bus keeps no log (AMQP): no position to give, and every resume is a gap.
      if (since) this.options.metrics.recoveryGaps.inc();
      return { welcome: since ? { gap: true, replayed: 0 } : {}, events: [] };
    }
    const seq = this.current;
    if (!since) return { welcome: { epoch, seq }, events: [] };
    const lookup =
      since.epoch === epoch && since.seq <= seq
        ? this.index.lookup(userId, sessionId, fromLog ? fromLog.upTo : since.seq)
        : { complete: false as const };
    const events = lookup.complete ? (fromLog ? [...fromLog.events, ...lookup.events] : lookup.events) : [];
    if (!lookup.complete || events.length > this.maxReplayEvents) {
      this.options.metrics.recoveryGaps.inc();
      return { welcome: { epoch, seq, gap: true, replayed: 0 }, events: [] };
    }
    this.options.metrics.recoveryReplayed.inc(events.length);
    return { welcome: { epoch, seq, gap: false, replayed: events.length }, events };
  }

  get bytes(): number {
    return this.index.bytes;
  }

  private newIndex(coveredAfter: number): RecentEvents<Frame> {
    const { maxBytes, windowMs, prepareFrame } = this.options;
    return new RecentEvents<Frame>({ maxBytes, windowMs }, coveredAfter, prepareFrame);
  }

  /** A jump over whole stored messages: those events never reached this pod (it was cut off longer than the window). */
  private lostBefore(seq: number): boolean {
    return Math.floor(seq / 1024) > Math.floor(this.current / 1024) + 1 && this.current > 0;
  }

  private wake(): void {
    const still: typeof this.waiters = [];
    for (const waiter of this.waiters) {
      if (waiter.seq <= this.current) waiter.resolve(true);
      else still.push(waiter);
    }
    this.waiters = still;
  }
}
