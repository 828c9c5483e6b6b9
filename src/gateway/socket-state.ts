import type { Conn } from '../engine/engine.js';

/** What the gateway keeps per socket, as the engine's per-socket data. */
export interface SocketState {
  userId: string;
  sessionId: string;
  /** Token expiry, seconds since the epoch; moves on `herald.auth`. */
  exp: number;
  /** The expiry-wheel bucket this socket is filed under. */
  expiryBucket: number;
  /** Names this socket across pods: `<podId>:<n>`. */
  socketKey: string;
  /** Set at open; orders two sockets of one session across pods. */
  openedAt: number;
}

export type Socket = Conn<SocketState>;

/** True when socket `a` (openedAt, socketKey) is newer than `b`: the newer one of a session wins. */
export function isNewer(a: { openedAt: number; socketKey: string }, b: { openedAt: number; socketKey: string }): boolean {
  return a.openedAt !== b.openedAt ? a.openedAt > b.openedAt : a.socketKey > b.socketKey;
}
