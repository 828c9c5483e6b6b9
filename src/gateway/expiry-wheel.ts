/** Where an item sits on the wheel; kept by the item (a socket's state) so removal needs no search. */
export interface WheelPosition {
  /** The second the item is filed under; 0 when it is not on the wheel. */
  expiryBucket: number;
  /** Its index in that second's bucket. */
  expiryIndex: number;
}

/**
 * Token expiry for every socket on one coarse wheel: one-second buckets keyed by `exp`,
 * swept by a single timer. No timer per socket. A bucket is an array whose items know their
 * index (removal swaps the last item in): a Set costs about ten times more per item on Bun.
 */
export class ExpiryWheel<T> {
  private readonly buckets = new Map<number, T[]>();
  private sweptUpTo: number;
  private count = 0;

  constructor(
    private readonly positionOf: (item: T) => WheelPosition,
    nowSeconds = Math.floor(Date.now() / 1000),
  ) {
    this.sweptUpTo = nowSeconds;
  }

  /** Files `item` under `exp` (seconds); an item already on the wheel moves. */
  add(item: T, exp: number): void {
    this.remove(item);
    const second = Math.max(Math.ceil(exp), this.sweptUpTo + 1);
    let bucket = this.buckets.get(second);
    if (!bucket) {
      bucket = [];
      this.buckets.set(second, bucket);
    }
    const position = this.positionOf(item);
    position.expiryBucket = second;
    position.expiryIndex = bucket.length;
    bucket.push(item);
    this.count++;
  }

  /** Takes `item` off the wheel; a no-op for one not on it. */
  remove(item: T): void {
    const position = this.positionOf(item);
    const bucket = this.buckets.get(position.expiryBucket);
    if (bucket?.[position.expiryIndex] !== item) return;
    const last = bucket.pop()!;
    if (last !== item) {
      bucket[position.expiryIndex] = last;
      this.positionOf(last).expiryIndex = position.expiryIndex;
    }
    if (bucket.length === 0) this.buckets.delete(position.expiryBucket);
    position.expiryBucket = 0;
    this.count--;
  }

  /** Removes and returns every item whose second has come. */
  takeExpired(nowSeconds: number): T[] {
    const expired: T[] = [];
    for (let second = this.sweptUpTo + 1; second <= nowSeconds; second++) {
      const bucket = this.buckets.get(second);
      if (!bucket) continue;
      this.buckets.delete(second);
      for (const item of bucket) {
        this.positionOf(item).expiryBucket = 0;
        expired.push(item);
      }
      this.count -= bucket.length;
    }
    if (nowSeconds > this.sweptUpTo) this.sweptUpTo = nowSeconds;
    return expired;
  }

  /** Items filed: zero once every socket has gone. */
  get size(): number {
    return this.count;
  }
}
