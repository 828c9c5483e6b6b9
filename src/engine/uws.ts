import { STATUS_CODES } from 'node:http';
import uWS from 'uWebSockets.js';
import type {
  HttpRequest as UwsRequest,
  HttpResponse as UwsResponse,
  TemplatedApp,
  us_listen_socket,
  us_socket_context_t,
  WebSocket,
} from 'uWebSockets.js';
import { EngineError, PayloadTooLargeError } from '../errors.js';
import type { HttpRequest, HttpResponse } from '../http/http-types.js';
import type { Conn, Engine, EngineFrame, EngineHandler, ListenOptions, SendResult } from './engine.js';

/** The uWebSockets.js engine for Node. Translates only. */
export function createUwsEngine<Data>(): Engine<Data> {
  // The republished package falls back to a `ws`-based imitation when its addon does not load
  // for this Node; its corking and publish semantics are not the ones this engine is built on.
  if (typeof (uWS as { getParts?: unknown }).getParts !== 'function') {
    throw new EngineError(
      `uWebSockets.js has no native addon for Node ${process.version} (ABI ${process.versions.modules}) on ${process.platform}-${process.arch}`,
    );
  }
  return new UwsEngine<Data>();
}

interface UserData<Data> {
  conn: UwsConn<Data>;
}

/** A close reason travels in a control frame: 123 bytes at most after the code. */
const MAX_CLOSE_REASON_BYTES = 123;

class UwsConn<Data> implements Conn<Data> {
  closed = false;
  /** The handler saw `open`: only then does it see `close`. */
  opened = false;
  /** Set at open, cleared at close: uWebSockets.js throws on any use of a closed socket. */
  ws: WebSocket<UserData<Data>> | undefined;
  readonly topics: string[] = [];

  constructor(
    readonly data: Data,
    private readonly engine: UwsEngine<Data>,
  ) {}

  send(frame: string): SendResult {
    if (this.closed || !this.ws) return 'dropped';
    const status = this.ws.send(frame, false);
    return status === 1 ? 'sent' : status === 0 ? 'backpressure' : 'dropped';
  }

  subscribe(topic: string): void {
    if (this.closed || !this.ws) return;
    this.ws.subscribe(topic);
    this.topics.push(topic);
    this.engine.track(topic, this);
  }

  bufferedAmount(): number {
    return this.closed || !this.ws ? 0 : this.ws.getBufferedAmount();
  }

  end(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    // uWebSockets.js runs the close handler inside `end`, which clears `ws`.
    this.engine.closingFromJs(() => this.ws?.end(code, closeReason(reason)));
  }
}

class UwsEngine<Data> implements Engine<Data> {
  readonly name = 'uws';
  private app: TemplatedApp | undefined;
  private listenSocket: us_listen_socket | undefined;
  private readonly conns = new Set<UwsConn<Data>>();
  /** Topic → open sockets subscribed to it, to report backpressure from a publish. */
  private readonly subscribers = new Map<string, Set<UwsConn<Data>>>();
  private readonly decoder = new TextDecoder();
  /** True from the start of a uWebSockets.js callback until the next check phase (its microtasks included). */
  private insideCallback = false;
  private closingDepth = 0;
  private flushScheduled = false;
  private pending: (() => void)[] = [];

  listen(options: ListenOptions, handler: EngineHandler<Data>): Promise<{ port: number }> {
    const app = uWS.App();
    this.app = app;
    app.ws<UserData<Data>>(options.socketPath, {
      maxPayloadLength: options.maxPayloadLength,
      idleTimeout: options.idleTimeoutS,
      sendPingsAutomatically: true,
      maxBackpressure: options.backpressureLimit,
      // uWebSockets.js would cut a slow consumer without a close frame (1006); the gateway closes it with 4008.
      // Typed as a number in this release's typings; the addon reads it as a boolean.
      closeOnBackpressureLimit: 0,
      compression: uWS.DISABLED,
      upgrade: (res, req, context) => {
        this.enteredCallback();
        this.upgrade(res, req, context, handler);
      },
      open: (ws) => {
        this.enteredCallback();
        const conn = ws.getUserData().conn;
        conn.ws = ws;
        this.conns.add(conn);
        // Opened after the upgrade's cork: v20.30's res.cork reads the upgraded socket's memory as
        // HTTP state once its callback returns, and a socket written to or subscribed inside it is
        // sometimes closed at once (1006 right after the welcome). A fresh socket reads clean.
        queueMicrotask(() => {
          if (conn.closed) return;
          conn.opened = true;
          handler.open(conn);
        });
      },
      message: (ws, message, isBinary) => {
        this.enteredCallback();
        const conn = ws.getUserData().conn;
        if (conn.closed || !conn.opened) return;
        // The ArrayBuffer is neutered when this callback returns: decode or copy it now.
        if (isBinary) handler.message(conn, new Uint8Array(message.slice(0)), true);
        else handler.message(conn, this.decoder.decode(message), false);
      },
      close: (ws, code, message) => {
        if (this.closingDepth === 0) this.enteredCallback();
        const conn = ws.getUserData().conn;
        conn.closed = true;
        conn.ws = undefined;
        this.forget(conn);
        if (conn.opened) handler.close(conn, code, this.decoder.decode(message));
      },
    });
    app.any('/*', (res, req) => {
      this.enteredCallback();
      this.http(res, req, options.maxBodyBytes, handler);
    });
    return new Promise((resolve, reject) => {
      app.listen(options.host, options.port, (listenSocket) => {
        if (!listenSocket) {
          reject(new EngineError(`cannot listen on ${options.host}:${options.port}`));
          return;
        }
        this.listenSocket = listenSocket;
        resolve({ port: uWS.us_socket_local_port(listenSocket as never) });
      });
    });
  }

  prepareFrame(frame: Uint8Array): EngineFrame {
    // uWebSockets.js sends bytes as they are; isBinary=false makes them a text frame.
    return frame;
  }

  publish(topic: string, frame: EngineFrame, from?: Conn<Data>): boolean {
    const origin = from as UwsConn<Data> | undefined;
    // uWebSockets.js queues topic frames and writes them after the call: what it can tell now is
    // whether a subscriber still holds unsent bytes; the gateway then checks how many.
    let clear = true;
    const subscribers = this.subscribers.get(topic);
    if (subscribers) {
      for (const conn of subscribers) {
        if (conn !== origin && conn.bufferedAmount() > 0) {
          clear = false;
          break;
        }
      }
    }
    if (origin?.ws && !origin.closed) origin.ws.publish(topic, frame as Uint8Array, false);
    else this.app!.publish(topic, frame as Uint8Array, false);
    return clear;
  }

  fanOut(work: () => void): void {
    this.outsideCallbacks(work);
  }

  async stop(): Promise<void> {
    this.flush();
    if (this.listenSocket) uWS.us_listen_socket_close(this.listenSocket);
    this.listenSocket = undefined;
    for (const conn of [...this.conns]) {
      if (conn.closed) continue;
      conn.closed = true;
      this.closingFromJs(() => conn.ws?.close());
    }
  }

  track(topic: string, conn: UwsConn<Data>): void {
    let set = this.subscribers.get(topic);
    if (!set) {
      set = new Set();
      this.subscribers.set(topic, set);
    }
    set.add(conn);
  }

  /** Runs a call into uWebSockets.js that fires the close handler synchronously, from plain JS. */
  closingFromJs(close: () => void): void {
    this.closingDepth++;
    try {
      close();
    } finally {
      this.closingDepth--;
    }
  }

  /**
   * Runs `work` at once when no uWebSockets.js callback is on the way, else in the check phase;
   * either way in call order. Two things must not run inside another socket's callback (or its
   * microtasks): a topic publish, which could not cork its subscribers (the cork trap), and an
   * async upgrade, which v20.30 would take for an upgrade of the socket being parsed and cut (1006).
   */
  outsideCallbacks(work: () => void): void {
    if (!this.insideCallback && this.pending.length === 0) {
      work();
      return;
    }
    this.pending.push(work);
    this.scheduleFlush();
  }

  /** Marks the start of a uWebSockets.js callback: until the check phase, `outsideCallbacks` work waits. */
  enteredCallback(): void {
    if (this.insideCallback) return;
    this.insideCallback = true;
    this.scheduleFlush();
  }

  private forget(conn: UwsConn<Data>): void {
    this.conns.delete(conn);
    for (const topic of conn.topics) {
      const set = this.subscribers.get(topic);
      if (set?.delete(conn) && set.size === 0) this.subscribers.delete(topic);
    }
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    this.insideCallback = false;
    const work = this.pending;
    if (work.length === 0) return;
    this.pending = [];
    for (const run of work) run();
  }

  private upgrade(res: UwsResponse, req: UwsRequest, context: us_socket_context_t, handler: EngineHandler<Data>): void {
    // `req` is only valid until this callback returns: copy everything before the first await.
    const query = req.getQuery();
    const url = query ? `${req.getUrl()}?${query}` : req.getUrl();
    const headers = copyHeaders(req);
    const key = req.getHeader('sec-websocket-key');
    const protocol = req.getHeader('sec-websocket-protocol');
    const extensions = req.getHeader('sec-websocket-extensions');
    const remoteAddress = Buffer.from(res.getRemoteAddressAsText()).toString();
    let aborted = false;
    res.onAborted(() => {
      this.enteredCallback();
      aborted = true;
    });
    handler
      .upgrade({ url, header: (name) => headers.get(name.toLowerCase()), remoteAddress })
      .then(
        (decision) =>
          this.outsideCallbacks(() => {
            if (aborted) return;
            res.cork(() => {
              if (decision.accept) {
                const userData: UserData<Data> = { conn: new UwsConn(decision.data, this) };
                res.upgrade(userData, key, protocol, extensions, context);
              } else {
                writeResponse(res, decision.status, { 'content-type': 'application/json' }, decision.body, false);
              }
            });
          }),
        (error: unknown) => {
          // Like Bun.serve without an error handler: the error goes to stderr, the client gets a 500.
          console.error('herald: upgrade handler failed', error);
          if (aborted) return;
          res.cork(() =>
            writeResponse(res, 500, { 'content-type': 'application/json' }, INTERNAL_ERROR_BODY, false),
          );
        },
      );
  }

  private http(res: UwsResponse, req: UwsRequest, maxBodyBytes: number, handler: EngineHandler<Data>): void {
    const method = req.getCaseSensitiveMethod();
    const path = req.getUrl();
    const headers = copyHeaders(req);
    // uWebSockets.js delivers the body only to a reader attached before this callback returns.
    const body = new BodyReader(res, Number(headers.get('content-length') ?? '0'), maxBodyBytes, () =>
      this.enteredCallback(),
    );
    // After an abort the body never completes and nothing is written: the handler's work is dropped.
    let aborted = false;
    res.onAborted(() => {
      this.enteredCallback();
      aborted = true;
    });
    const request: HttpRequest = {
      method,
      path,
      header: (name) => headers.get(name.toLowerCase()),
      body: () => body.read(),
    };
    handler.http(request).then(
      (response: HttpResponse) => {
        if (aborted) return;
        res.cork(() => writeResponse(res, response.status, response.headers, response.body, body.mustClose));
      },
      (error: unknown) => {
        console.error('herald: http handler failed', error);
        if (aborted) return;
        res.cork(() => writeResponse(res, 500, { 'content-type': 'application/json' }, INTERNAL_ERROR_BODY, true));
      },
    );
  }
}

const INTERNAL_ERROR_BODY = '{"error":"internal_error","message":"the request failed; see the gateway log"}';

/**
 * Reads a request body as uWebSockets.js streams it. A body over the limit is read to its end
 * and dropped (so the client sees the 413); one over four times the limit is cut at once and
 * the connection closes after the answer, like Bun.serve's `maxRequestBodySize`.
 */
class BodyReader {
  mustClose = false;
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private done = false;
  private failure: Error | undefined;
  private waiter: { resolve: (body: Uint8Array) => void; reject: (error: Error) => void } | undefined;

  constructor(
    res: UwsResponse,
    declared: number,
    private readonly limit: number,
    onCallback: () => void,
  ) {
    if (declared > limit * 4) this.cut();
    res.onData((chunk, isLast) => {
      onCallback();
      if (this.done) return;
      this.size += chunk.byteLength;
      if (this.size > limit * 4) this.cut();
      else {
        // The chunk's memory is reused once this callback returns: copy what is kept.
        if (this.size <= limit) this.chunks.push(Buffer.from(chunk.slice(0)));
        if (isLast) this.finish();
      }
    });
  }

  read(): Promise<Uint8Array> {
    if (this.done) return this.settled();
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  private cut(): void {
    this.mustClose = true;
    this.fail(new PayloadTooLargeError(`body over ${this.limit} bytes`));
  }

  private finish(): void {
    if (this.size > this.limit) this.fail(new PayloadTooLargeError(`body over ${this.limit} bytes`));
    else this.settle();
  }

  private fail(error: Error): void {
    if (this.done) return;
    this.failure = error;
    this.chunks.length = 0;
    this.settle();
  }

  private settle(): void {
    this.done = true;
    if (this.waiter) this.settled().then(this.waiter.resolve, this.waiter.reject);
  }

  private settled(): Promise<Uint8Array> {
    return this.failure ? Promise.reject(this.failure) : Promise.resolve(Buffer.concat(this.chunks, this.size));
  }
}

function copyHeaders(req: UwsRequest): Map<string, string> {
  const headers = new Map<string, string>();
  req.forEach((name, value) => {
    const seen = headers.get(name);
    headers.set(name, seen === undefined ? value : `${seen}, ${value}`);
  });
  return headers;
}

function writeResponse(
  res: UwsResponse,
  status: number,
  headers: Record<string, string> | undefined,
  body: string,
  closeConnection: boolean,
): void {
  res.writeStatus(`${status} ${STATUS_CODES[status] ?? ''}`);
  if (headers) for (const name in headers) res.writeHeader(name, headers[name]!);
  res.end(body, closeConnection);
}

function closeReason(reason: string): string {
  if (Buffer.byteLength(reason) <= MAX_CLOSE_REASON_BYTES) return reason;
  // Cut on a character boundary: an invalid UTF-8 reason makes the peer fail the connection.
  let cut = reason.slice(0, MAX_CLOSE_REASON_BYTES);
  while (Buffer.byteLength(cut) > MAX_CLOSE_REASON_BYTES) cut = cut.slice(0, -1);
  return cut;
}
