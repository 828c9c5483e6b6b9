import { CloseCode } from '../protocol/close-codes.js';

/** What the client does after the server closed its socket (CONTRACT.md §1, the close-code table). */
export type CloseAction =
  /** Terminal: surface the code and reason, never reconnect on its own. */
  | 'stop'
  /** Get a fresh token from the token function, then reconnect. */
  | 'renew-token'
  /** Reconnect after a backoff delay. */
  | 'reconnect';

const STOP: ReadonlySet<number> = new Set([
  CloseCode.SessionClosed,
  CloseCode.BadFrame,
  CloseCode.FrameTooLarge,
  CloseCode.UserInvalidated,
  CloseCode.Replaced,
]);

/**
 * Every code outside the table (1006 network loss, 1001, 1011, 1013, a proxy's own codes)
 * means the link broke, not that the server wants the client gone: reconnect.
 */
export function closeAction(code: number): CloseAction {
  if (STOP.has(code)) return 'stop';
  if (code === CloseCode.TokenExpired) return 'renew-token';
  return 'reconnect';
}

/** Codes the SDK itself closes with. Browsers may send only 1000 and 3000–4999, so no 1001. */
export const ClientCloseCode = {
  /** `close()` by the application. */
  Normal: 1000,
  /** Leaving a draining pod after `herald.reconnect` (what 1001 "going away" would say). */
  GoingAway: 4000,
  /** No frame arrived within the heartbeat deadline, or the welcome did not come in time: the link is dead. */
  DeadLink: 4100,
} as const;
export type ClientCloseCode = (typeof ClientCloseCode)[keyof typeof ClientCloseCode];

/** The code reported when a socket ended without a close frame (network loss, refused upgrade). */
export const ABNORMAL_CLOSURE = 1006;
