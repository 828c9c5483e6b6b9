/** A place in the server's event log (CONTRACT.md §6): a `seq` means something only within its `epoch`. */
export interface LogPosition {
  epoch: string;
  seq: number;
}

/**
 * Why events may have been missed across a reconnect:
 * - `new_epoch`: the server's log is another one (the cluster's log was recreated, a single pod restarted);
 * - `incomplete`: the log no longer holds every event after the client's position (older than the
 *   recovery window, too many to replay, or the pod could not catch up in time);
 * - `no_log`: the server keeps no event log (recovery off, or the AMQP bus), or the client had no
 *   position in one: what was missed cannot be known.
 */
export type GapReason = 'new_epoch' | 'incomplete' | 'no_log';

/** Told to `onGap` listeners: events may have been lost, reload the state. */
export interface Gap {
  /** The epoch the client is in from now on; undefined when the server keeps no log. */
  epoch: string | undefined;
  reason: GapReason;
  /** The position the client tried to resume from, if it had one. */
  since: LogPosition | undefined;
}

/** The log fields of `herald.welcome`. */
export interface WelcomeLogFields {
  epoch?: unknown;
  seq?: unknown;
  gap?: unknown;
  replayed?: unknown;
}

/**
 * Where the client stands in the event log, and the rules that make delivery exactly-once and
 * in order across reconnects: the position is the `seq` of the last event handed to the app (or
 * the welcome's), every reconnect resumes from it, and an event at or before it is a duplicate.
 * It lives as long as the client's run, across sockets; the first welcome of a run is never a gap.
 */
export class LogCursor {
  private current: LogPosition | undefined;
  private welcomed = false;
  /** Replayed event frames still to come on this socket, and the welcome's `seq` they lead up to. */
  private replayLeft = 0;
  private welcomeSeq = 0;

  /** The position to resume from (`since`), or undefined: on the first connect, or without a log. */
  get position(): LogPosition | undefined {
    return this.current && { ...this.current };
  }

  /** `since=<epoch>:<seq>` for the next upgrade, or undefined. */
  get since(): string | undefined {
    return this.current && `${this.current.epoch}:${this.current.seq}`;
  }

  /** A fresh start: the next welcome is a first one, and no `since` is sent before it. */
  reset(): void {
    this.current = undefined;
    this.welcomed = false;
    this.replayLeft = 0;
  }

  /** A socket was welcomed; returns the gap to report, if events may have been missed. */
  welcome(welcome: WelcomeLogFields): Gap | undefined {
    const since = this.current;
    const first = !this.welcomed;
    this.welcomed = true;
    this.replayLeft = 0;
    const { epoch, seq } = welcome;
    if (typeof epoch !== 'string' || !isSeq(seq)) {
      this.current = undefined;
      return first ? undefined : { epoch: undefined, reason: 'no_log', since };
    }
    if (since && since.epoch === epoch && welcome.gap === false) {
      // The missed events follow; the position moves on with them, then to the welcome's seq.
      this.welcomeSeq = seq;
      this.replayLeft = isSeq(welcome.replayed) ? welcome.replayed : 0;
      if (this.replayLeft === 0) this.moveTo(seq);
      return undefined;
    }
    this.current = { epoch, seq };
    if (first) return undefined;
    return { epoch, reason: !since ? 'no_log' : since.epoch !== epoch ? 'new_epoch' : 'incomplete', since };
  }

  /** An event frame arrived on the welcomed socket: true to hand it to the app, false for a duplicate. */
  accept(seq: unknown): boolean {
    let fresh = true;
    if (this.current && isSeq(seq)) {
      fresh = seq > this.current.seq;
      if (fresh) this.current = { epoch: this.current.epoch, seq };
    }
    if (this.replayLeft > 0 && --this.replayLeft === 0) this.moveTo(this.welcomeSeq);
    return fresh;
  }

  private moveTo(seq: number): void {
    if (this.current && seq > this.current.seq) this.current = { epoch: this.current.epoch, seq };
  }
}

function isSeq(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}
