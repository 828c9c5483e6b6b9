/** Every this often a probe goes out, unless one is still waiting for its answer. */
export const PROBE_EVERY_MS = 1_000;
/** A broker not heard from for this long counts as down: a probe every second, down within 6 s (the contract allows 10). */
export const SILENCE_LIMIT_MS = 5_000;

export interface SilenceWatchOptions {
  /** One round trip to the broker (a NATS flush, an AMQP passive declare); resolves when answered. */
  probe(): Promise<unknown>;
  /** The broker has not been heard from for `silentMs`: called once per watch. */
  onSilent(silentMs: number): void;
  probeEveryMs?: number;
  silenceLimitMs?: number;
}

/**
 * Tells a broker that stopped answering without closing the connection (a frozen process, a
 * partition) from a busy one. It probes while the connection is quiet and counts anything
 * that shows the broker is working — a probe's answer, a message, written bytes drained —
 * as heard; past the limit without any of it, the broker is silent. The verdict waits one
 * turn of the event loop, so bytes that arrived while this process itself was stalled are
 * read first and a busy pod does not blame its broker.
 */
export class SilenceWatch {
  private lastHeard = Date.now();
  private probing = false;
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly probeEveryMs: number;
  private readonly limitMs: number;

  constructor(private readonly options: SilenceWatchOptions) {
    this.probeEveryMs = options.probeEveryMs ?? PROBE_EVERY_MS;
    this.limitMs = options.silenceLimitMs ?? SILENCE_LIMIT_MS;
  }

  /** Starts (or restarts, after a reconnect) with the broker just heard. */
  start(): void {
    this.stop();
    this.lastHeard = Date.now();
    this.timer = setInterval(() => this.tick(), this.probeEveryMs);
    this.timer.unref?.();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.probing = false;
  }

  /** The broker showed it is working. Cheap: call it on every message. */
  heard(): void {
    this.lastHeard = Date.now();
  }

  private tick(): void {
    if (Date.now() - this.lastHeard > this.limitMs) {
      setImmediate(() => this.judge());
      return;
    }
    if (this.probing) return;
    this.probing = true;
    const timer = this.timer;
    this.options.probe().then(
      () => {
        if (this.timer !== timer) return;
        this.probing = false;
        this.heard();
      },
      () => {
        // A failed probe is not an answer; the connection's own events report why.
        if (this.timer === timer) this.probing = false;
      },
    );
  }

  private judge(): void {
    const silentMs = Date.now() - this.lastHeard;
    if (this.timer === undefined || silentMs <= this.limitMs) return;
    this.stop();
    this.options.onSilent(silentMs);
  }
}
