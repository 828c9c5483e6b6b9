import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
import { ABNORMAL_CLOSURE, ClientCloseCode, closeAction } from './close-policy.js';
import { HandlerError, HeraldClientError, ProtocolError, TokenError, UsageError } from './errors.js';
import { LogCursor, type Gap, type LogPosition } from './log-cursor.js';
import { socketUrl } from './socket-url.js';
import { MIN_REFRESH_DELAY_MS, readTokenTimes, refreshDelayMs, type TokenTimes } from './token.js';
import type {
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

/** The part of the WHATWG WebSocket the client uses; browsers, Bun, Node ≥ 22 and `ws` all have it. */
interface PlatformSocket {
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

type Timer = ReturnType<typeof setTimeout>;

/** One socket and everything that lives only as long as it does. */
interface Link {
  socket: PlatformSocket;
  welcomed: boolean;
  token: string;
  times: TokenTimes | undefined;
  connectTimer?: Timer;
  heartbeatTimer?: ReturnType<typeof setInterval>;
  pongTimer?: Timer;
  refreshTimer?: Timer;
  leaveTimer?: Timer;
}

/** setTimeout fires at once for delays past 2^31-1 ms; tokens may live longer than that. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const PING = '{"type":"herald.ping"}';
const noop = () => {};

/**
 * A Herald connection that stays up: it reconnects with backoff and jitter following the
 * close-code table, refreshes its token before expiry, detects a dead link with application
 * pings, and answers `herald.reconnect` by leaving first. Every reconnect resumes from the last
 * event delivered (`since`), so the app gets each event once and in order, or hears of a gap
 * through `onGap`. `close()` stops it and every timer.
 *
 * ```ts
 * const herald = new HeraldClient<{ ITEM_CREATED: { item: { id: number } } }>({ url: '/ws', token: fetchToken });
 * herald.on('ITEM_CREATED', (event) => render(event.content.item));
 * herald.connect();
 * ```
 */
export class HeraldClient<Events extends EventMap = EventMap> {
  private readonly url: UrlSource;
  private readonly token: TokenSource;
  private readonly WebSocketImpl: WebSocketConstructor;
  private readonly backoff: BackoffOptions;
  private readonly random: () => number;
  private readonly options: HeraldClientOptions;

  private current: ConnectionState = { status: 'idle' };
  private link: Link | undefined;
  private reconnectTimer: Timer | undefined;
  /** Failed attempts since the last welcome: drives the backoff. */
  private attempt = 0;
  /** Bumped by connect() and by every stop, so a token promise that settles later knows it is stale. */
  private run = 0;
  private closedPromise!: Promise<ClosedState>;
  private resolveClosed!: (state: ClosedState) => void;

  private readonly handlers = new Map<string, Set<(event: HeraldEvent) => void>>();
  private readonly anyHandlers = new Set<(event: HeraldEvent) => void>();
  private readonly stateListeners = new Set<(state: ConnectionState) => void>();
  private readonly errorListeners = new Set<(error: HeraldClientError) => void>();
  private readonly gapListeners = new Set<(gap: Gap) => void>();
  /** Where the app stands in the event log: what a reconnect resumes from. */
  private readonly cursor = new LogCursor();

  constructor(options: HeraldClientOptions) {
    this.options = options;
    this.url = options.url;
    this.token = options.token;
    const impl = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!impl) {
      throw new UsageError(
        'no WebSocket on this platform: on Node 20 run node --experimental-websocket, or pass the `WebSocket` option (from the `ws` package)',
      );
    }
    this.WebSocketImpl = impl;
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.random = options.random ?? Math.random;
    // Fail on a bad URL now, not on the first reconnect.
    if (typeof this.url === 'string') socketUrl(this.url, 'x', pageLocation());
    this.newClosedPromise();
  }

  /** The connection state now. */
  get state(): ConnectionState {
    return this.current;
  }

  /**
   * The log position of the last event handed to the app (or of the last welcome): every
   * reconnect sends it as `since`. Undefined before the first welcome and when the server keeps
   * no event log.
   */
  get position(): LogPosition | undefined {
    return this.cursor.position;
  }

  /** Resolves when the client stops for good: a terminal close code, or `close()`. */
  get closed(): Promise<ClosedState> {
    return this.closedPromise;
  }

  /**
   * Starts connecting. Calling it while running does nothing; after a stop it starts afresh:
   * the first connect of a run never resumes (no `since`) and is never a gap.
   */
  connect(): this {
    if (this.current.status !== 'idle' && this.current.status !== 'closed') return this;
    if (this.current.status === 'closed') this.newClosedPromise();
    this.cursor.reset();
    this.run++;
    this.attempt = 0;
    void this.open();
    return this;
  }

  /** Closes the socket from this side (1000) and stops every timer; no reconnect follows. */
  close(): Promise<ClosedState> {
    if (this.current.status !== 'idle' && this.current.status !== 'closed') {
      if (this.link) this.dropLink(this.link, ClientCloseCode.Normal, 'closed by the client');
      this.finish({ status: 'closed', code: ClientCloseCode.Normal, reason: 'closed by the client', by: 'client' });
    }
    return this.closedPromise;
  }

  /** Calls `handler` for every event of this type. Returns a function that removes it. */
  on<Type extends keyof Events & string>(type: Type, handler: EventHandler<Events, Type>): () => void {
    if (type.startsWith('herald.')) {
      throw new UsageError(`${type}: herald.* frames are handled by the client; use onState() for the connection`);
    }
    let set = this.handlers.get(type);
    if (!set) this.handlers.set(type, (set = new Set()));
    const entry = handler as unknown as (event: HeraldEvent) => void;
    set.add(entry);
    return () => {
      set.delete(entry);
    };
  }

  /** Calls `handler` for every event, whatever its type. */
  onAny(handler: (event: HeraldEvent) => void): () => void {
    this.anyHandlers.add(handler);
    return () => {
      this.anyHandlers.delete(handler);
    };
  }

  /** Calls `listener` on every state change: connecting, open, reconnecting, closed. */
  onState(listener: (state: ConnectionState) => void): () => void {
    this.stateListeners.add(listener);
    return () => {
      this.stateListeners.delete(listener);
    };
  }

  /**
   * Calls `listener` when events may have been missed across a reconnect: the server's log no
   * longer covers the client's position, is another log (new epoch), or there is none. The app
   * should reload its state; the events that follow are live ones. Never called for the first
   * connect.
   */
  onGap(listener: (gap: Gap) => void): () => void {
    this.gapListeners.add(listener);
    return () => {
      this.gapListeners.delete(listener);
    };
  }

  /** Calls `listener` with failures that do not stop the client (token function, unreadable frame, a throwing handler). Without one, they go to console.error. */
  onError(listener: (error: HeraldClientError) => void): () => void {
    this.errorListeners.add(listener);
    return () => {
      this.errorListeners.delete(listener);
    };
  }

  private async open(): Promise<void> {
    const run = this.run;
    this.setState({ status: 'connecting', attempt: this.attempt });
    let token: string;
    try {
      token = await this.nextToken();
    } catch (error) {
      if (run !== this.run) return;
      this.report(error);
      this.retry(ABNORMAL_CLOSURE, `no token: ${(error as Error).message}`);
      return;
    }
    let url: string;
    try {
      url = typeof this.url === 'string' ? this.url : await this.url();
    } catch (error) {
      if (run !== this.run) return;
      this.report(new UsageError(`the url function failed: ${(error as Error)?.message ?? String(error)}`, { cause: error }));
      this.retry(ABNORMAL_CLOSURE, 'no url');
      return;
    }
    if (run !== this.run) return;
    let times: TokenTimes | undefined;
    try {
      times = readTokenTimes(token);
    } catch (error) {
      // The server decides; the client only loses its refresh schedule.
      this.report(error);
    }
    if (typeof this.token === 'string' && times && times.exp * 1000 <= Date.now()) {
      this.finish({
        status: 'closed',
        code: 4001,
        reason: 'the token expired and there is no token function to get a new one',
        by: 'client',
      });
      return;
    }
    let socket: PlatformSocket;
    try {
      socket = new this.WebSocketImpl(socketUrl(url, token, pageLocation(), this.cursor.since)) as PlatformSocket;
    } catch (error) {
      this.report(error instanceof UsageError ? error : new HeraldClientError('could not open a WebSocket', { cause: error }));
      this.retry(ABNORMAL_CLOSURE, 'could not open a WebSocket');
      return;
    }
    const link: Link = { socket, welcomed: false, token, times };
    this.link = link;
    socket.onmessage = (event) => this.onFrame(link, event.data);
    socket.onclose = (event) => this.onClose(link, event.code, event.reason);
    // A close event always follows an error event; the close decides.
    socket.onerror = noop;
    link.connectTimer = setTimeout(() => {
      this.dropLink(link, ClientCloseCode.DeadLink, 'not welcomed in time');
      this.retry(ClientCloseCode.DeadLink, `no herald.welcome within ${this.connectTimeoutMs} ms`);
    }, this.connectTimeoutMs);
  }

  private async nextToken(): Promise<string> {
    if (typeof this.token === 'string') return this.token;
    let token: unknown;
    try {
      token = await this.token();
    } catch (error) {
      throw new TokenError(`the token function failed: ${(error as Error)?.message ?? String(error)}`, { cause: error });
    }
    if (typeof token !== 'string' || token === '') throw new TokenError('the token function returned no token');
    return token;
  }

  private onFrame(link: Link, data: unknown): void {
    if (link !== this.link) return;
    // Any frame proves the link is alive, not only a pong.
    if (link.pongTimer) clearTimeout(link.pongTimer);
    link.pongTimer = undefined;
    if (typeof data !== 'string') {
      this.report(new ProtocolError('the server sent a binary frame; Herald frames are JSON text'));
      return;
    }
    let frame: { type?: unknown; [key: string]: unknown };
    try {
      frame = JSON.parse(data);
    } catch (error) {
      this.report(new ProtocolError('the server sent a frame that is not JSON', { cause: error }));
      return;
    }
    if (typeof frame !== 'object' || frame === null || typeof frame.type !== 'string') {
      this.report(new ProtocolError('the server sent a frame without a type'));
      return;
    }
    switch (frame.type) {
      case 'herald.welcome':
        return this.onWelcome(link, frame as unknown as Identity);
      case 'herald.pong':
        return;
      case 'herald.reconnect':
        return this.onReconnectRequest(link, Number(frame.afterMs));
      default:
        // Unknown herald.* frames come from a newer server: ignoring them keeps old clients working.
        if (frame.type.startsWith('herald.')) return;
        // An event at or before the position was handed to the app already (a replay overlap).
        if (this.cursor.accept(frame.seq)) this.dispatch(frame as HeraldEvent);
    }
  }

  private onWelcome(link: Link, welcome: Identity): void {
    // A second welcome on one socket would start a second heartbeat: there is only one per socket.
    if (link.welcomed) return;
    clearTimeout(link.connectTimer);
    link.welcomed = true;
    this.attempt = 0;
    const gap = this.cursor.welcome(welcome);
    const { userId, sessionId, heartbeatMs, epoch, seq, gap: lost, replayed } = welcome;
    const state: ConnectionState = { status: 'open', userId, sessionId, heartbeatMs };
    if (epoch !== undefined) Object.assign(state, { epoch, seq });
    if (lost !== undefined) Object.assign(state, { gap: lost, replayed });
    this.setState(state);
    this.startHeartbeat(link, this.options.heartbeatMs ?? welcome.heartbeatMs);
    this.scheduleRefresh(link);
    // Told before any event of this socket is handed over: the app reloads, then applies live events.
    if (gap) this.notify(this.gapListeners, gap, 'a gap listener threw');
  }

  /**
   * The pod drains. The socket stays open (events keep arriving) until `afterMs`, then the
   * client closes it itself — before the pod's deadline, so never a 1012 — and connects again
   * at once: the server's jitter already spread the clients.
   */
  private onReconnectRequest(link: Link, afterMs: number): void {
    if (link.leaveTimer) return;
    link.leaveTimer = setTimeout(
      () => {
        this.dropLink(link, ClientCloseCode.GoingAway, 'leaving a draining pod');
        this.reconnectIn(0, ClientCloseCode.GoingAway, 'the server is draining (herald.reconnect)');
      },
      Number.isFinite(afterMs) ? Math.min(Math.max(0, afterMs), MAX_TIMER_MS) : 0,
    );
  }

  private onClose(link: Link, code: number, reason: string): void {
    if (link !== this.link) return;
    this.clearTimers(link);
    this.link = undefined;
    switch (closeAction(code)) {
      case 'stop':
        return this.finish({ status: 'closed', code, reason, by: 'server' });
      case 'renew-token':
        if (typeof this.token === 'string') return this.finish({ status: 'closed', code, reason, by: 'server' });
        return this.retry(code, reason);
      case 'reconnect':
        return this.retry(code, reason || (link.welcomed ? 'connection lost' : 'could not connect'));
    }
  }

  private startHeartbeat(link: Link, heartbeatMs: number): void {
    if (!(heartbeatMs > 0)) return;
    const pongTimeoutMs = this.options.pongTimeoutMs ?? Math.min(heartbeatMs, 10_000);
    link.heartbeatTimer = setInterval(() => {
      this.send(link, PING);
      link.pongTimer ??= setTimeout(() => {
        this.dropLink(link, ClientCloseCode.DeadLink, 'heartbeat timeout');
        this.retry(ClientCloseCode.DeadLink, `no frame within ${pongTimeoutMs} ms of herald.ping: the link is dead`);
      }, pongTimeoutMs);
    }, heartbeatMs);
  }

  private scheduleRefresh(link: Link, delayMs?: number): void {
    if (typeof this.token === 'string' || !link.times) return;
    const delay = delayMs ?? refreshDelayMs(link.times, Date.now(), this.options.refreshLeadMs);
    link.refreshTimer = setTimeout(() => void this.refresh(link), Math.min(delay, MAX_TIMER_MS));
  }

  /** Sends `herald.auth` with a fresh token; on failure tries again until the server closes with 4001. */
  private async refresh(link: Link): Promise<void> {
    let token: string | undefined;
    let times: TokenTimes | undefined;
    try {
      token = await this.nextToken();
      times = readTokenTimes(token);
    } catch (error) {
      if (link !== this.link) return;
      this.report(error);
    }
    if (link !== this.link) return;
    if (token === undefined || token === link.token || !times) {
      const leftMs = link.times ? link.times.exp * 1000 - Date.now() : 0;
      return this.scheduleRefresh(link, Math.max(MIN_REFRESH_DELAY_MS, Math.min(5_000, leftMs / 2)));
    }
    this.send(link, JSON.stringify({ type: 'herald.auth', token }));
    link.token = token;
    link.times = times;
    this.scheduleRefresh(link);
  }

  private send(link: Link, text: string): void {
    try {
      link.socket.send(text);
    } catch (error) {
      // A socket that is closing refuses sends; its close event decides what happens next.
      this.report(new HeraldClientError('could not send a frame', { cause: error }));
    }
  }

  private notify<T>(listeners: Set<(value: T) => void>, value: T, what: string): void {
    for (const listener of [...listeners]) {
      try {
        listener(value);
      } catch (error) {
        this.report(new HandlerError(what, { cause: error }));
      }
    }
  }

  private dispatch(event: HeraldEvent): void {
    for (const handler of [...(this.handlers.get(event.type) ?? []), ...this.anyHandlers]) {
      try {
        handler(event);
      } catch (error) {
        this.report(new HandlerError(`a handler of ${event.type} threw`, { cause: error }));
      }
    }
  }

  private retry(code: number, reason: string): void {
    const delay = backoffDelay(this.attempt, this.backoff, this.random);
    this.attempt++;
    this.reconnectIn(delay, code, reason);
  }

  private reconnectIn(delayMs: number, code: number, reason: string): void {
    const run = this.run;
    this.setState({ status: 'reconnecting', attempt: this.attempt, delayMs, code, reason });
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (run === this.run) void this.open();
    }, delayMs);
  }

  /** Forgets a socket: no event of it is heard again, and it is closed from this side. */
  private dropLink(link: Link, code: number, reason: string): void {
    this.clearTimers(link);
    if (this.link === link) this.link = undefined;
    const { socket } = link;
    socket.onmessage = null;
    socket.onclose = null;
    // `ws` throws an unhandled 'error' when a socket closed while connecting has no listener.
    socket.onerror = noop;
    try {
      socket.close(code, reason);
    } catch (error) {
      this.report(new HeraldClientError('could not close a socket', { cause: error }));
    }
  }

  private clearTimers(link: Link): void {
    clearTimeout(link.connectTimer);
    clearInterval(link.heartbeatTimer);
    clearTimeout(link.pongTimer);
    clearTimeout(link.refreshTimer);
    clearTimeout(link.leaveTimer);
    link.pongTimer = undefined;
  }

  private finish(state: ClosedState): void {
    this.run++;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    if (this.link) this.dropLink(this.link, ClientCloseCode.Normal, 'client stopped');
    this.setState(state);
    this.resolveClosed(state);
  }

  private setState(state: ConnectionState): void {
    this.current = state;
    this.notify(this.stateListeners, state, `a state listener threw on ${state.status}`);
  }

  private report(error: unknown): void {
    const failure = error instanceof HeraldClientError ? error : new HeraldClientError(String(error), { cause: error });
    if (this.errorListeners.size === 0) {
      console.error('herald client:', failure);
      return;
    }
    for (const listener of [...this.errorListeners]) {
      try {
        listener(failure);
      } catch (listenerError) {
        console.error('herald client: an error listener threw', listenerError, 'while reporting', failure);
      }
    }
  }

  private get connectTimeoutMs(): number {
    return this.options.connectTimeoutMs ?? 10_000;
  }

  private newClosedPromise(): void {
    this.closedPromise = new Promise((resolve) => (this.resolveClosed = resolve));
  }
}

/** The page's URL in a browser, so that "/ws" works; undefined elsewhere. */
function pageLocation(): string | undefined {
  return (globalThis as { location?: { href?: string } }).location?.href;
}
