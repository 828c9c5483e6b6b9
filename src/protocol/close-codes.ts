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

/** Why the server closes a socket: the code a client acts on and the reason it logs. */
export interface Disconnect {
  readonly code: CloseCode;
  readonly reason: string;
}

/**
 * Every close the server makes, in one table (as centrifuge's disconnect.go). Reasons that
 * carry a detail are built by the functions below it.
 */
export const Disconnect = {
  SessionClosed: { code: CloseCode.SessionClosed, reason: 'session closed by the backend' },
  BinaryFrame: { code: CloseCode.BadFrame, reason: 'binary frames are not accepted' },
  NotJson: { code: CloseCode.BadFrame, reason: 'frame is not JSON' },
  MalformedFrame: { code: CloseCode.BadFrame, reason: 'malformed frame: expected herald.ping or herald.auth with a token' },
  InternalError: { code: CloseCode.InternalError, reason: 'internal error' },
  PodRestart: { code: CloseCode.PodRestart, reason: 'pod restarting' },
  TokenExpired: { code: CloseCode.TokenExpired, reason: 'token expired' },
  RefreshForOtherIdentity: {
    code: CloseCode.TokenExpired,
    reason: 'refresh refused: the token is for another user or session',
  },
  UserInvalidated: { code: CloseCode.UserInvalidated, reason: 'every session of this user was invalidated' },
  SlowConsumer: { code: CloseCode.SlowConsumer, reason: 'slow consumer: send buffer over the limit' },
  Replaced: { code: CloseCode.Replaced, reason: 'replaced by a newer socket of this session' },

  unknownFrameType: (type: string): Disconnect => ({
    code: CloseCode.BadFrame,
    reason: `unknown frame type ${type.slice(0, 60)}`,
  }),
  tooManyFrames: (perSecond: number): Disconnect => ({
    code: CloseCode.BadFrame,
    reason: `too many frames: at most ${perSecond} a second`,
  }),
  frameTooLarge: (limitBytes: number): Disconnect => ({
    code: CloseCode.FrameTooLarge,
    reason: `client frames are limited to ${limitBytes} bytes`,
  }),
  refreshRefused: (why: string): Disconnect => ({ code: CloseCode.TokenExpired, reason: `refresh refused: ${why}` }),
} as const satisfies Record<string, Disconnect | ((...args: never[]) => Disconnect)>;
