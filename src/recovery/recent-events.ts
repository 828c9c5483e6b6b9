/** One event as the index keeps it: its frame ready to send, and who may receive it. */
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

/** A first-in, first-out list that drops from the front without copying the rest. */
class Queue<T> {
  private items: T[] = [];
  private head = 0;

  push(item: T): void {
    this.items.push(item);
  }

  peek(): T | undefined {
    return this.items[this.head];
  }

  shift(): T | undefined {
    const item = this.items[this.head];
    if (item === undefined) return undefined;
    this.items[this.head++] = undefined as T;
    // Compact once the dropped front outweighs what is left.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  get length(): number {
    return this.items.length - this.head;
  }

  /** Items whose key is over `after`, in order; the queue is sorted by key. */
  *after(after: number, key: (item: T) => number): IterableIterator<T> {
    let lo = this.head;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (key(this.items[mid]!) <= after) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.items.length; i++) yield this.items[i]!;
  }
}

/** Per-target overhead counted for each entry: a slot in the user's queue and its share of the map. */
export const BYTES_PER_TARGET = 16;
/** Per-event overhead counted for each entry: the entry object and its slot in the global queue. */
export const BYTES_PER_EVENT = 96;

export type Lookup<Frame> =
  | { complete: true; events: RecentEvent<Frame>[] }
  /** The index no longer holds every event after `since` (evicted, or before it started). */
  | { complete: false };

/**
 * The recent events of the whole cluster, by user, bounded by age and by bytes (oldest out
 * first), so that a resume is a lookup, not a scan. Events are appended in log order.
 * `coveredAfter` says from where on it holds everything: every event with a larger `seq`.
 */
export class RecentEvents<Frame> {
  private readonly all = new Queue<RecentEvent<Frame>>();
  private readonly byUser = new Map<string, Queue<RecentEvent<Frame>>>();
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
    this.all.push(event);
    this.heldBytes += event.bytes;
    for (const userId of event.targetUsers) {
      let queue = this.byUser.get(userId);
      if (!queue) {
        queue = new Queue();
        this.byUser.set(userId, queue);
      }
      queue.push(event);
    }
    this.evict(event.atMs);
  }

  /**
   * Every event for `userId` with a larger `seq` than `since`, in order, except those its own
   * session sent with `inclusive: false`; or incomplete when some of them are gone.
   */
  lookup(userId: string, sessionId: string, since: number): Lookup<Frame> {
    if (since < this.covered) return { complete: false };
    const queue = this.byUser.get(userId);
    const events: RecentEvent<Frame>[] = [];
    if (queue) {
      for (const event of queue.after(since, (e) => e.seq)) {
        // A target listed twice by a foreign publisher is filed twice: replay it once.
        if (event.skipSessionId !== sessionId && events[events.length - 1] !== event) events.push(event);
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
      for (const userId of oldest.targetUsers) {
        const queue = this.byUser.get(userId);
        // Appended in log order, so a user's oldest entry is this event.
        queue?.shift();
        if (queue && queue.length === 0) this.byUser.delete(userId);
      }
    }
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
