/**
 * Many short deadlines on one timer (request bodies that must arrive in time): a timer per
 * request costs the publish path an allocation, a heap insert and a removal each time, for a
 * deadline that almost never fires. A deadline fires up to `resolutionMs` late.
 */
export class Deadlines {
  private readonly pending = new Set<Deadline>();
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly resolutionMs = 100) {}

  /** Calls `onLate` once `ms` have passed, unless cancelled first. */
  add(ms: number, onLate: () => void): Deadline {
    const deadline = new Deadline(Date.now() + ms, onLate, this);
    this.pending.add(deadline);
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.fire(), this.resolutionMs);
      this.timer.unref?.();
    }
    return deadline;
  }

  /** @internal */
  remove(deadline: Deadline): void {
    this.pending.delete(deadline);
    if (this.pending.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private fire(): void {
    const now = Date.now();
    for (const deadline of this.pending) {
      if (deadline.at <= now) {
        deadline.cancel();
        deadline.onLate();
      }
    }
  }
}

export class Deadline {
  constructor(
    readonly at: number,
    readonly onLate: () => void,
    private readonly owner: Deadlines,
  ) {}

  cancel(): void {
    this.owner.remove(this);
  }
}
