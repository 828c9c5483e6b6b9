import type { Conn } from '../engine/engine.js';

/** What the gateway keeps per socket, as the engine's per-socket data. */
export interface SocketState {
  userId: string;
  sessionId: string;
  /** Token issue time, seconds since the epoch: checked against revocations that land before open. */
  iat: number;
  /** Token expiry, seconds since the epoch; moves on `herald.auth`. */
  exp: number;
  /** The expiry-wheel bucket this socket is filed under. */
  expiryBucket: number;
  /** Names this socket across pods: `<podId>:<n>`. */
  socketKey: string;
  /** Set at open; sent in the SessionOpened announcement for logs and other pods. */
  openedAt: number;
  /** This pod has seen its own SessionOpened for this socket come back from the bus. */
  announced: boolean;
  /**
   * The client-frame rate limit as one number (GCRA, a token bucket without a timer): the
   * `performance.now()` at which the socket's frame allowance is back to full. 0 = full.
   */
  framesFullAt: number;
}

export type Socket = Conn<SocketState>;
