import type { Conn, EngineFrame } from '../engine/engine.js';
import type { MissedFromLog } from '../recovery/log-reader.js';
import type { Since } from '../recovery/since.js';

/** What the gateway keeps per socket, as the engine's per-socket data. */
export interface SocketState {
  userId: string;
  sessionId: string;
  /** Token issue time, seconds since the epoch: checked against revocations that land before open. */
  iat: number;
  /** When this pod first began verifying the socket's token (ms): a disconnect made later revokes it whatever its `iat`. */
  seenAt: number;
  /** Token expiry, seconds since the epoch; moves on `herald.auth`. */
  exp: number;
  /** Where the expiry wheel filed this socket (the second, and the index in that second's bucket). */
  expiryBucket: number;
  expiryIndex: number;
  /** Names this socket across pods: `<podId>:<n>`. */
  socketKey: string;
  /** Set at open; sent in the SessionOpened announcement for logs and other pods. */
  openedAt: number;
  /** This pod has seen its own SessionOpened for this socket come back from the bus. */
  announced: boolean;
  /**
   * A resuming client's upgrade, replayed at open and then dropped. One field for both parts:
   * every field is paid by every socket for its whole life, and JavaScriptCore moves a 13th
   * field of this object out of line (~45 B more per socket).
   */
  resume: PendingResume | undefined;
  /**
   * The client-frame rate limit as one number (GCRA, a token bucket without a timer): the
   * `performance.now()` at which the socket's frame allowance is back to full. 0 = full.
   */
  framesFullAt: number;
}

export interface PendingResume {
  /** Where the client left off (`since` on the upgrade). */
  since: Since;
  /** For a resume older than the pod's memory: what the upgrade read from the log. */
  fromLog: MissedFromLog<EngineFrame> | undefined;
}

export type Socket = Conn<SocketState>;
