/** `herald/client`: the browser, Node and Bun client. Depends on nothing but the platform's WebSocket. */
export { HeraldClient } from './herald-client.js';
export { backoffCap, backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
export { ClientCloseCode, closeAction, type CloseAction } from './close-policy.js';
export { CloseCode } from '../protocol/close-codes.js';
export type { Gap, GapReason, LogPosition } from './log-cursor.js';
export { HandlerError, HeraldClientError, ProtocolError, TokenError, UsageError } from './errors.js';
export type {
  ClosedState,
  ConnectionState,
  EventHandler,
  EventMap,
  HeraldClientOptions,
  HeraldEvent,
  Identity,
  TokenSource,
  UrlSource,
  WebSocketConstructor,
} from './types.js';
