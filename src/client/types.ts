import type { EventFrame, WelcomeFrame } from '../protocol/client-frames.js';
import type { BackoffOptions } from './backoff.js';

/** What `on(type, …)` may listen to: event type → the shape of its `content`. */
export type EventMap = Record<string, unknown>;

/** An event as the client receives it (the server's EventFrame), with its content typed by the EventMap. */
export type HeraldEvent<Type extends string = string, Content = unknown> = Omit<EventFrame, 'type' | 'content'> & {
  type: Type;
  content: Content;
};

export type EventHandler<Events extends EventMap, Type extends keyof Events & string> = (
  event: HeraldEvent<Type, Events[Type]>,
) => void;

/**
 * Who is connected, from `herald.welcome`; with recovery on, also the log position the socket
 * starts after (`epoch`, `seq`) and, on a resume, whether events were lost (`gap`) and how many
 * missed ones follow (`replayed`).
 */
export type Identity = Omit<WelcomeFrame, 'type'>;

/** Connection state, for an app to show ("reconnecting…") and for logs. */
export type ConnectionState =
  | { status: 'idle' }
  /** Getting a token and opening a socket; `attempt` counts failed tries since the last welcome. */
  | { status: 'connecting'; attempt: number }
  /** `herald.welcome` arrived: from now on emitted events reach this client. */
  | ({ status: 'open' } & Identity)
  /** The link ended and the client will try again in `delayMs`. `code`/`reason` say why. */
  | { status: 'reconnecting'; attempt: number; delayMs: number; code: number; reason: string }
  /** Terminal: the client will not reconnect on its own. `by` says which side ended it. */
  | { status: 'closed'; code: number; reason: string; by: 'server' | 'client' };

export type ClosedState = Extract<ConnectionState, { status: 'closed' }>;

/** Any constructor with the WHATWG WebSocket API: browsers', Bun's, Node ≥ 22's, or `ws`'s default export. */
export type WebSocketConstructor = new (url: string) => unknown;

/** A token, or a function that returns a fresh one; the function is called on every (re)connect and before expiry. */
export type TokenSource = string | (() => string | Promise<string>);

/** A socket URL, or a function that returns one; the function is called on every (re)connect (to pick a pod that is up). */
export type UrlSource = string | (() => string | Promise<string>);

export interface HeraldClientOptions {
  /**
   * `wss://host/ws`; a relative URL (`/ws`) resolves against the page's location. A function is
   * called before every connect and reconnect, so a client can go to a server that is up.
   */
  url: UrlSource;
  token: TokenSource;
  /** Defaults to `globalThis.WebSocket`. Pass `ws`'s `WebSocket` on Node 20. */
  WebSocket?: WebSocketConstructor;
  /** Reconnect delays: full jitter in [0, min(maxMs, baseMs·2^attempt)). Defaults 500 ms and 30 s. */
  backoff?: Partial<BackoffOptions>;
  /** How often to send `herald.ping`; defaults to the server's `heartbeatMs` from the welcome. */
  heartbeatMs?: number;
  /** The link is dead when no frame arrives this long after a ping; default min(heartbeatMs, 10 s). */
  pongTimeoutMs?: number;
  /** The socket must be welcomed within this time, else the attempt counts as failed; default 10 s. */
  connectTimeoutMs?: number;
  /** Refresh the token this long before `exp`; default a quarter of its lifetime, within 1–60 s. */
  refreshLeadMs?: number;
  /** Random numbers in [0, 1) for the jitter; for tests. Defaults to Math.random. */
  random?: () => number;
}
