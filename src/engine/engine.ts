/**
 * A socket engine translates native sockets into Conn and native callbacks into
 * EngineHandler calls. It decides nothing: auth, routing and policy live in gateway/.
 * One module per engine: bun.ts (Bun.serve) and uws.ts (uWebSockets.js on Node).
 */

import type { Server, WebSocketHandler } from 'bun';
import type { HttpRequest, HttpResponse } from '../http/http-types.js';
import type { Logger } from '../log.js';
import type { Disconnect } from '../protocol/close-codes.js';

/** Result of a send: queued, queued past the backpressure limit, or dropped. */
export type SendResult = 'sent' | 'backpressure' | 'dropped';

/**
 * One open WebSocket. After `end` (or the peer's close) `closed` is true and nothing
 * reads from or writes to the socket again: every caller checks `closed` first.
 */
export interface Conn<Data = unknown> {
  readonly data: Data;
  readonly closed: boolean;
  send(frame: string): SendResult;
  /** Sends a frame `Engine.prepareFrame` made (a replayed event) as a text frame. */
  sendFrame(frame: EngineFrame): SendResult;
  subscribe(topic: string): void;
  /** Bytes queued for this socket and not yet written to the kernel. */
  bufferedAmount(): number;
  /** Closes with a close frame carrying the disconnect's code and reason; a no-op once closed. */
  end(disconnect: Disconnect): void;
}

/** What an upgrade request carries, copied out of the native request before any await. */
export interface UpgradeRequest {
  /** The path and query, e.g. `/ws?access_token=…`. */
  url: string;
  header(name: string): string | undefined;
  remoteAddress: string;
}

export type UpgradeDecision<Data> =
  | { accept: true; data: Data }
  | { accept: false; status: number; body: string };

export interface EngineHandler<Data> {
  /** Plain HTTP (everything that is not a WebSocket upgrade on the socket path). */
  http(request: HttpRequest): Promise<HttpResponse>;
  /** Decides on an upgrade before the socket opens. */
  upgrade(request: UpgradeRequest): Promise<UpgradeDecision<Data>>;
  open(conn: Conn<Data>): void;
  message(conn: Conn<Data>, message: string | Uint8Array, isBinary: boolean): void;
  /** Called once per socket, whoever closed it. `conn.closed` is already true. */
  close(conn: Conn<Data>, code: number, reason: string): void;
}

export interface ListenOptions {
  host: string;
  port: number;
  /** The WebSocket path; other paths are plain HTTP. */
  socketPath: string;
  /** The engine's own frame limit. Must sit well above the gateway's, which answers 1009 itself. */
  maxPayloadLength: number;
  idleTimeoutS: number;
  /** Bytes buffered per socket before a publish reports backpressure. */
  backpressureLimit: number;
  /** Largest HTTP request body read; above it the handler sees PayloadTooLargeError. */
  maxBodyBytes: number;
  /**
   * How long a request body may take to arrive once the handler asks for it; past it the handler
   * sees IncompleteBodyError('stalled'), and one whose connection closes first sees ('cut').
   * Below the engines' own idle cut (10 s), so the client still gets the answer.
   */
  bodyTimeoutMs: number;
}

/** What `mount` needs: the listen options without an address, since the app's server has one. */
export type MountOptions = Omit<ListenOptions, 'host' | 'port'>;

/**
 * The pair an app puts into its own `Bun.serve`: `fetch` answers the requests handed to it (the
 * socket path upgrades, the rest is the gateway's HTTP API) and `websocket` runs the sockets.
 * `fetch` resolves to undefined once it has upgraded the request, as Bun expects.
 */
export interface ServeHandlers<WebSocketData = unknown> {
  fetch(request: Request, server: Server<WebSocketData>): Promise<Response | undefined>;
  websocket: WebSocketHandler<WebSocketData>;
}

/** The native frame handle an engine publishes: made once per event, whatever the recipients. */
export type EngineFrame = unknown;

export interface Engine<Data = unknown> {
  readonly name: string;
  listen(options: ListenOptions, handler: EngineHandler<Data>): Promise<{ port: number }>;
  /**
   * Instead of `listen`: the same request and socket handling for a server the app owns. Only an
   * engine whose runtime lets two parties share one server has it (Bun.serve).
   */
  mount?(options: MountOptions, handler: EngineHandler<Data>): ServeHandlers;
  /** Converts an event's frame (a string, or its UTF-8 bytes) into what `publish` sends as a text frame, once per event. */
  prepareFrame(frame: string | Uint8Array): EngineFrame;
  /**
   * Native topic fan-out of a text frame; `from` is skipped (uWebSockets' publish-from-socket
   * semantics). Returns false when a subscriber is past its backpressure limit.
   */
  publish(topic: string, frame: EngineFrame, from?: Conn<Data>): boolean;
  /**
   * Runs fan-out work (one bus message's publishes and closes) where the engine corks each
   * subscriber's writes. Work runs in call order, at once or later in the same event-loop turn:
   * uWebSockets.js defers work that arrives inside one of its own callbacks, where every
   * subscriber's frame would cost its own syscall (docs/engines.md, the cork trap); Bun runs it at once.
   */
  fanOut(work: () => void): void;
  /** Stops listening and closes every remaining socket at once. */
  stop(): Promise<void>;
}

/** What every engine factory takes. */
export interface EngineOptions {
  /** Where an engine reports what it cannot hand to the gateway (a failed handler, a broken request). */
  log: Logger;
}
