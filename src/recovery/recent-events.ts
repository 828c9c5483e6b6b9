/** One event as the router hands it to the index: its frame ready to send, and who may receive it. */
export interface RecentEvent<Frame> {
  readonly seq: number;
  readonly frame: Frame;
  /** The socket `inclusive: false` skips: its session does not get the event replayed either. */
  readonly skipSessionId: string | null;
  readonly targetUsers: readonly string[];
  /** What this entry is counted as against the byte limit (see docs/recovery.md for the formula). */
  readonly bytes: number;
  readonly atMs: number;
}

/** What the index keeps of an event, and gives back to a resume. */
export interface KeptEvent<Frame> {
  readonly seq: number;
  readonly frame: Frame;
  readonly skipSessionId: string | null;
  readonly bytes: number;
  readonly atMs: number;
}

/** Items per chunk of a queue. */
const CHUNK = 1024;

/**
 * A first-in, first-out list in chunks of a fixed size. A push writes into the newest chunk
 * only, and a full chunk is never written again until it is dropped whole. (One array written
 * at its end on every push is an old object pointing at a new one each time: the generational
 * collector scans such an array again in full at every young collection, a cost that grows
 * with the index.)
 */
class Queue<T> {
  private chunks: T[][] = [];
  /** Index of the first live item in chunks[0]. */
  private head = 0;
  private size = 0;

  push(item: T): void {
    const last = this.chunks[this.chunks.length - 1];
    if (last !== undefined && last.length < CHUNK) last.push(item);
    else this.chunks.push([item]);
    this.size++;
  }

  peek(): T | undefined {
    return this.size === 0 ? undefined : this.chunks[0]![this.head];
  }

  shift(): T | undefined {
    if (this.size === 0) return undefined;
    const first = this.chunks[0]!;
    const item = first[this.head]!;
    this.size--;
    if (++this.head === first.length) {
      // Spent: every chunk but the newest is full, and the newest is spent only when empty.
      this.chunks.shift();
      this.head = 0;
    } else first[this.head - 1] = undefined as T;
    return item;
  }

  get length(): number {
    return this.size;
  }

  /** The position of the first item whose key is over `after` (the queue is sorted by key), or undefined. */
  private firstAfter(after: number, key: (item: T) => number): { chunk: number; index: number } | undefined {
    const chunks = this.chunks;
    // The first chunk whose last item is over `after`, by bisection over the chunks.
    let lo = 0;
    let hi = chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const chunk = chunks[mid]!;
      if (key(chunk[chunk.length - 1]!) <= after) lo = mid + 1;
      else hi = mid;
    }
    if (lo === chunks.length) return undefined;
    const chunk = chunks[lo]!;
    let i = lo === 0 ? this.head : 0;
    let j = chunk.length;
    while (i < j) {
      const mid = (i + j) >>> 1;
      if (key(chunk[mid]!) <= after) i = mid + 1;
      else j = mid;
    }
    return { chunk: lo, index: i };
  }

  /** Items whose key is over `after`, in order. */
  *after(after: number, key: (item: T) => number): IterableIterator<T> {
    const at = this.firstAfter(after, key);
    if (!at) return;
    for (let c = at.chunk, i = at.index; c < this.chunks.length; c++, i = 0) {
      const chunk = this.chunks[c]!;
      for (; i < chunk.length; i++) yield chunk[i]!;
    }
  }

  /** The item whose key is `wanted`, if held. */
  find(wanted: number, key: (item: T) => number): T | undefined {
    const at = this.firstAfter(wanted - 1, key);
    const item = at && this.chunks[at.chunk]![at.index];
    return item !== undefined && key(item) === wanted ? item : undefined;
  }
}

/**
 * One user's entries: the `seq` of each event for them, in order. Numbers, not the events: an
 * array of numbers holds nothing for the collector to trace, and the user's id is kept once.
 */
class UserLog {
  readonly seqs = new Queue<number>();
  constructor(readonly userId: string) {}
}

/** An event as filed: what a resume gets, and the user logs it is in (for its eviction): one log itself, not an array of one. */
interface Filed<Frame> extends KeptEvent<Frame> {
  readonly logs: UserLog | UserLog[];
}

/** Per-target overhead counted for each entry: a slot in the user's queue and its share of the map. */
export const BYTES_PER_TARGET = 16;
/** Per-event overhead counted for each entry: the entry object and its slot in the global queue. */
export const BYTES_PER_EVENT = 96;

export type Lookup<Frame> =
  | { complete: true; events: KeptEvent<Frame>[] }
  /** The index no longer holds every event after `since` (evicted, or before it started). */
  | { complete: false };

const seqOf = (event: { seq: number }) => event.seq;
const itself = (seq: number) => seq;

/**
 * The recent events of the whole cluster, by user, bounded by age and by bytes (oldest out
 * first), so that a resume is a lookup, not a scan. Events are appended in log order.
 * `coveredAfter` says from where on it holds everything: every event with a larger `seq`.
 *
 * Kept per event: one entry (frame, seq, session to skip, bytes, time) in the global queue and
 * its list of user logs; per target, a number in that user's log. Nothing of the event's
 * header is kept: its user-id strings are garbage once filed, so that a kept event costs the
 * collector the same few objects whatever the number of its targets.
 */
export class RecentEvents<Frame> {
  private readonly all = new Queue<Filed<Frame>>();
  private readonly byUser = new Map<string, UserLog>();
  private heldBytes = 0;
  private covered: number;

  constructor(
    readonly limits: { maxBytes: number; windowMs: number },
    /** Everything after this position is (or will be) appended: where the log started for this pod. */
    coveredAfter = 0,
  ) {
    this.covered = coveredAfter;
  }

  append(event: RecentEvent<Frame>): void {
    const targets = event.targetUsers;
    let logs: UserLog | UserLog[];
    if (targets.length === 1) logs = this.fileFor(targets[0]!, event.seq);
    else {
      logs = new Array<UserLog>(targets.length);
      for (let i = 0; i < targets.length; i++) logs[i] = this.fileFor(targets[i]!, event.seq);
    }
    const { seq, frame, skipSessionId, bytes, atMs } = event;
    this.all.push({ seq, frame, skipSessionId, bytes, atMs, logs });
    this.heldBytes += bytes;
    this.evict(atMs);
  }

  private fileFor(userId: string, seq: number): UserLog {
    let log = this.byUser.get(userId);
    if (!log) {
      log = new UserLog(userId);
      this.byUser.set(userId, log);
    }
    log.seqs.push(seq);
    return log;
  }

  /**
   * Every event for `userId` with a larger `seq` than `since`, in order, except those its own
   * session sent with `inclusive: false`; or incomplete when some of them are gone.
   */
  lookup(userId: string, sessionId: string, since: number): Lookup<Frame> {
    if (since < this.covered) return { complete: false };
    const log = this.byUser.get(userId);
    const events: KeptEvent<Frame>[] = [];
    if (log) {
      let previous = -1;
      for (const seq of log.seqs.after(since, itself)) {
        // A target listed twice by a foreign publisher is filed twice: replay it once.
        if (seq === previous) continue;
        previous = seq;
        const event = this.all.find(seq, seqOf);
        if (event && event.skipSessionId !== sessionId) events.push(event);
      }
    }
    return { complete: true, events };
  }

  /** Drops what is past the window at `nowMs` and, past the byte limit, the oldest. */
  evict(nowMs: number): void {
    const oldestKept = nowMs - this.limits.windowMs;
    for (;;) {
      const oldest = this.all.peek();
      if (!oldest || (oldest.atMs >= oldestKept && this.heldBytes <= this.limits.maxBytes)) return;
      this.all.shift();
      this.heldBytes -= oldest.bytes;
      this.covered = oldest.seq;
      const logs = oldest.logs;
      if (logs instanceof UserLog) this.unfile(logs);
      else for (const log of logs) this.unfile(log);
    }
  }

  private unfile(log: UserLog): void {
    // Appended in log order, so a user's oldest entry is the event being dropped.
    log.seqs.shift();
    // Emptied only once every event filed in it has gone: no kept event refers to it.
    if (log.seqs.length === 0) this.byUser.delete(log.userId);
  }

  /** Every event with a larger `seq` is held (or was never in the log). */
  get coveredAfter(): number {
    return this.covered;
  }

  get bytes(): number {
    return this.heldBytes;
  }

  get events(): number {
    return this.all.length;
  }

  get users(): number {
    return this.byUser.size;
  }
}
