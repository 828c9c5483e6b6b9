/**
 * Token expiry for every socket on one coarse wheel: one-second buckets keyed by `exp`,
 * swept by a single timer. No timer per socket.
 */
export class ExpiryWheel<T> {
  private readonly buckets = new Map<number, Set<T>>();
  private sweptUpTo: number;

  constructor(nowSeconds = Math.floor(Date.now() / 1000)) {
    this.sweptUpTo = nowSeconds;
  }

  /** Files `item` under `exp` (seconds); returns the bucket used, which `remove` needs. */
  add(item: T, exp: number): number {
    const second = Math.max(Math.ceil(exp), this.sweptUpTo + 1);
    let bucket = this.buckets.get(second);
    if (!bucket) {
      bucket = new Set();
      this.buckets.set(second, bucket);
    }
    bucket.add(item);
    return second;
  }

  remove(item: T, bucketSecond: number): void {
    const bucket = this.buckets.get(bucketSecond);
    if (bucket?.delete(item) && bucket.size === 0) this.buckets.delete(bucketSecond);
  }

  /** Removes and returns every item whose second has come. */
  takeExpired(nowSeconds: number): T[] {
    const expired: T[] = [];
    for (let second = this.sweptUpTo + 1; second <= nowSeconds; second++) {
      const bucket = this.buckets.get(second);
      if (!bucket) continue;
      this.buckets.delete(second);
      for (const item of bucket) expired.push(item);
    }
    if (nowSeconds > this.sweptUpTo) this.sweptUpTo = nowSeconds;
    return expired;
  }

  /** Items filed: zero once every socket has gone. */
  get size(): number {
    let n = 0;
    for (const bucket of this.buckets.values()) n += bucket.size;
    return n;
  }
}
