const MIN_CAPACITY = 4;

/**
 * One user's entries: the `seq` of each event for them, in order, in a ring of doubles that
 * grows by doubling. Numbers in a typed array: nothing for the collector to trace, and no
 * write barrier per entry. Entries at or before the index's `coveredAfter` are dead: a lookup
 * never reads them (it starts after a `since` at least that large), and `prune` drops them.
 */
export class SeqLog {
  private ring = new Float64Array(MIN_CAPACITY);
  private head = 0;
  private size = 0;

  constructor(readonly userId: string) {}

  push(seq: number, coveredAfter: number): void {
    if (this.size === this.ring.length) {
      this.prune(coveredAfter);
      if (this.size * 2 > this.ring.length) this.resize(this.ring.length * 2);
    }
    this.ring[(this.head + this.size) & (this.ring.length - 1)] = seq;
    this.size++;
  }

  /** Drops the dead entries and shrinks a ring left mostly empty; returns how many are left. */
  prune(coveredAfter: number): number {
    const ring = this.ring;
    const mask = ring.length - 1;
    while (this.size > 0 && ring[this.head]! <= coveredAfter) {
      this.head = (this.head + 1) & mask;
      this.size--;
    }
    if (this.size * 4 < ring.length && ring.length > MIN_CAPACITY) this.resize(Math.max(MIN_CAPACITY, ring.length / 2));
    return this.size;
  }

  /** Calls `each` with every entry over `after`, in order. */
  forEachAfter(after: number, each: (seq: number) => void): void {
    const ring = this.ring;
    const mask = ring.length - 1;
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ring[(this.head + mid) & mask]! <= after) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.size; i++) each(ring[(this.head + i) & mask]!);
  }

  get length(): number {
    return this.size;
  }

  private resize(capacity: number): void {
    const next = new Float64Array(capacity);
    const mask = this.ring.length - 1;
    for (let i = 0; i < this.size; i++) next[i] = this.ring[(this.head + i) & mask]!;
    this.ring = next;
    this.head = 0;
  }
}
