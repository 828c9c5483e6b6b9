import { FrameArena } from './frame-arena.js';
import { SeqLog } from './seq-log.js';

/** One event as the router hands it to the index: its frame as sent (with its `seq`), and who may receive it. */
export interface RecentEvent {
  readonly seq: number;
  /** The frame's text, or its UTF-8 bytes: kept as bytes, never as the object handed in. */
  readonly frame: string | Uint8Array;
  /** The socket `inclusive: false` skips: its session does not get the event replayed either. */
  readonly skipSessionId: string | null;
  readonly targetUsers: readonly string[];
  /** What this entry is counted as against the byte limit (see docs/recovery.md for the formula). */
  readonly bytes: number;
  readonly atMs: number;
}

/** What the index gives back to a resume: the frame ready for the engine to send. */
export interface KeptEvent<Frame> {
  readonly seq: number;
  readonly frame: Frame;
  readonly skipSessionId: string | null;
  readonly bytes: number;
  readonly atMs: number;
}

/** Events per block of columns. */
const BLOCK = 1024;

/**
 * The scalars of up to BLOCK events, a column each: typed arrays, which the collector neither
 * traces nor scans, so that a kept event is no JS object at all.
 */
class Block {
  readonly seq = new Float64Array(BLOCK);
  readonly atMs = new Float64Array(BLOCK);
  readonly bytes = new Float64Array(BLOCK);
  /** The frame's place in the arena: chunk id, offset, length. */
  readonly chunk = new Uint32Array(BLOCK);
  readonly offset = new Uint32Array(BLOCK);
  readonly length = new Uint32Array(BLOCK);
  count = 0;
}

/**
 * Bytes counted per target for each entry: a double in the user's ring, which holds between 1
 * and 4 times the room its entries use (about 12 bytes measured, bench/results/index-memory.md).
 */
export const BYTES_PER_TARGET = 16;
/**
 * Bytes counted per event beyond its frame's UTF-8 bytes: its row of columns (36), the arena's
 * unused chunk tails and the blocks' own (45 on Bun and 63 on Node measured, bench/results/index-memory.md).
 */
export const BYTES_PER_EVENT = 64;

export type Lookup<Frame> =
  | { complete: true; events: KeptEvent<Frame>[] }
  /** The index no longer holds every event after `since` (evicted, or before it started). */
  | { complete: false };

/**
 * The recent events of the whole cluster, by user, bounded by age and by bytes (oldest out
 * first), so that a resume is a lookup, not a scan. Events are appended in log order.
 * `coveredAfter` says from where on it holds everything: every event with a larger `seq`.
 *
 * Kept per event: its frame's bytes in an arena of large buffers and a row of scalars in
 * blocks of typed arrays; per target, a number in that user's log; the session to skip, when
 * there is one (rare), in a map. No JS object per event, so that keeping a window of events
 * costs the garbage collector nothing per event: a resume (rare) rebuilds the frames.
 * Eviction drops rows from the front and never visits user logs: their dead entries (at or
 * before `coveredAfter`) are never read, and `evict` prunes them.
 */
export class RecentEvents<Frame> {
  private blocks: Block[] = [];
  /** Index of the oldest held event in blocks[0]. */
  private head = 0;
  private held = 0;
  private readonly arena = new FrameArena();
  private readonly skips = new Map<number, string>();
  private readonly byUser = new Map<string, SeqLog>();
  private heldBytes = 0;
  private covered: number;

  constructor(
    readonly limits: { maxBytes: number; windowMs: number },
    /** Everything after this position is (or will be) appended: where the log started for this pod. */
    coveredAfter: number,
    /** Turns a kept frame's bytes back into what the engine sends. */
    private readonly prepare: (bytes: Uint8Array) => Frame,
  ) {
    this.covered = coveredAfter;
  }

  append(event: RecentEvent): void {
    const { seq, targetUsers, bytes } = event;
    for (let i = 0; i < targetUsers.length; i++) {
      const userId = targetUsers[i]!;
      let log = this.byUser.get(userId);
      if (log === undefined) {
        log = new SeqLog(userId);
        this.byUser.set(userId, log);
      }
      log.push(seq, this.covered);
    }
    if (event.skipSessionId !== null) this.skips.set(seq, event.skipSessionId);
    const arena = this.arena;
    arena.write(event.frame);
    let block = this.blocks[this.blocks.length - 1];
    if (block === undefined || block.count === BLOCK) {
      block = new Block();
      this.blocks.push(block);
    }
    const row = block.count++;
    block.seq[row] = seq;
    block.atMs[row] = event.atMs;
    block.bytes[row] = bytes;
    block.chunk[row] = arena.chunk;
    block.offset[row] = arena.offset;
    block.length[row] = arena.length;
    this.held++;
    this.heldBytes += bytes;
    this.drop(event.atMs);
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
      // `since` is at least `coveredAfter`: the log's dead entries are never reached.
      log.forEachAfter(since, (seq) => {
        // A target listed twice by a foreign publisher is filed twice: replay it once.
        if (seq === previous) return;
        previous = seq;
        const skipSessionId = this.skips.get(seq) ?? null;
        if (skipSessionId === sessionId) return;
        const kept = this.row(seq, skipSessionId);
        if (kept) events.push(kept);
      });
    }
    return { complete: true, events };
  }

  /**
   * Drops what is past the window at `nowMs` and, past the byte limit, the oldest; then prunes
   * every user log of its dead entries, and forgets the users with none left (the pod's
   * one-second sweep: a pass over the users, not per event).
   */
  evict(nowMs: number): void {
    this.drop(nowMs);
    for (const [userId, log] of this.byUser) {
      if (log.prune(this.covered) === 0) this.byUser.delete(userId);
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
    return this.held;
  }

  /** Bytes of the arena's buffers: the frames held, and the unused tails of its chunks. */
  get arenaBytes(): number {
    return this.arena.capacity;
  }

  /** Users with an entry in the index (those whose entries all aged out go at the next `evict`). */
  get users(): number {
    return this.byUser.size;
  }

  private drop(nowMs: number): void {
    const oldestKept = nowMs - this.limits.windowMs;
    const maxBytes = this.limits.maxBytes;
    let dropped = false;
    while (this.held > 0) {
      const block = this.blocks[0]!;
      const row = this.head;
      if (block.atMs[row]! >= oldestKept && this.heldBytes <= maxBytes) break;
      const seq = block.seq[row]!;
      this.heldBytes -= block.bytes[row]!;
      this.covered = seq;
      if (this.skips.size > 0) this.skips.delete(seq);
      this.held--;
      dropped = true;
      if (++this.head === block.count) {
        this.blocks.shift();
        this.head = 0;
      }
    }
    if (!dropped) return;
    const oldest = this.blocks[0];
    this.arena.releaseBefore(oldest === undefined ? Infinity : oldest.chunk[this.head]!);
  }

  /** The held event `seq`, found by bisection over the blocks and within one. */
  private row(seq: number, skipSessionId: string | null): KeptEvent<Frame> | undefined {
    const blocks = this.blocks;
    let lo = 0;
    let hi = blocks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const block = blocks[mid]!;
      if (block.seq[block.count - 1]! < seq) lo = mid + 1;
      else hi = mid;
    }
    const block = blocks[lo];
    if (block === undefined) return undefined;
    let i = lo === 0 ? this.head : 0;
    let j = block.count;
    while (i < j) {
      const mid = (i + j) >>> 1;
      if (block.seq[mid]! < seq) i = mid + 1;
      else j = mid;
    }
    if (i === block.count || block.seq[i] !== seq) return undefined;
    const bytes = this.arena.read(block.chunk[i]!, block.offset[i]!, block.length[i]!);
    return { seq, frame: this.prepare(bytes), skipSessionId, bytes: block.bytes[i]!, atMs: block.atMs[i]! };
  }
}
