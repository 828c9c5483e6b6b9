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
  /** Where a resuming client left off (`since` on the upgrade); replayed at open, then dropped. */
  since: Since | undefined;
  /** For a resume older than the pod's memory: what the upgrade read from the log. Dropped at open. */
  fromLog?: MissedFromLog<EngineFrame>;
  /**
   * The client-frame rate limit as one number (GCRA, a token bucket without a timer): the
   * `performance.now()` at which the socket's frame allowance is back to full. 0 = full.
   */
  framesFullAt: number;
}

export type Socket = Conn<SocketState>;
