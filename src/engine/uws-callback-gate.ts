/**
 * Keeps work out of uWebSockets.js callbacks. Two things must not run inside another socket's
 * callback (or its microtasks): a topic publish, which could not cork its subscribers (the cork
 * trap: every subscriber's frame would cost its own syscall), and an async upgrade, which v20.30
 * would take for an upgrade of the socket being parsed and cut (1006). Work that arrives while
 * a callback is on the way waits for the check phase; work from plain JS runs at once; either
 * way in call order.
 */
export class CallbackGate {
  /** True from the start of a uWebSockets.js callback until the next check phase (its microtasks included). */
  private insideCallback = false;
  private closingDepth = 0;
  private flushScheduled = false;
  private pending: (() => void)[] = [];

  /** Runs `work` at once when no uWebSockets.js callback is on the way, else in the check phase. */
  outsideCallbacks(work: () => void): void {
    if (!this.insideCallback && this.pending.length === 0) {
      work();
      return;
    }
    this.pending.push(work);
    this.scheduleFlush();
  }

  /** Marks the start of a uWebSockets.js callback: until the check phase, `outsideCallbacks` work waits. */
  enteredCallback(): void {
    if (this.insideCallback) return;
    this.insideCallback = true;
    this.scheduleFlush();
  }

  /** A close callback that JS caused (through `closingFromJs`) is not a uWebSockets.js callback. */
  enteredCloseCallback(): void {
    if (this.closingDepth === 0) this.enteredCallback();
  }

  /** Runs a call into uWebSockets.js that fires the close handler synchronously, from plain JS. */
  closingFromJs(close: () => void): void {
    this.closingDepth++;
    try {
      close();
    } finally {
      this.closingDepth--;
    }
  }

  /** Runs what waits now (before the engine stops). */
  flush(): void {
    this.flushScheduled = false;
    this.insideCallback = false;
    const work = this.pending;
    if (work.length === 0) return;
    this.pending = [];
    for (const run of work) run();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }
}
