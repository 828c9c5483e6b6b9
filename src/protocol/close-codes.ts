/** The close-code table of the contract (§1). A client decides from the code alone whether to reconnect. */
export const CloseCode = {
  /** The backend closed this session (logout): stop. */
  SessionClosed: 1000,
  /** The client sent a bad frame: stop, report the bug. */
  BadFrame: 1008,
  /** The client sent a frame over the limit: stop, report the bug. */
  FrameTooLarge: 1009,
  /** A bug in the gateway cost this socket (not in the contract table: clients treat it as a lost link). */
  InternalError: 1011,
  /** The pod restarts and the client did not leave in time: reconnect after a jittered delay. */
  PodRestart: 1012,
  /** Token expired or refresh refused: get a new token, then reconnect. */
  TokenExpired: 4001,
  /** Every session of this user was invalidated: stop, log out. */
  UserInvalidated: 4003,
  /** Slow consumer: the send buffer passed the limit: reconnect. */
  SlowConsumer: 4008,
  /** Replaced by a newer socket of the same session: stop. */
  Replaced: 4009,
} as const;

export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];
