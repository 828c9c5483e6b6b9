import uWS from 'uWebSockets.js';
import type {
  HttpRequest as UwsRequest,
  HttpResponse as UwsResponse,
  TemplatedApp,
  us_listen_socket,
  us_socket_context_t,
  WebSocket,
} from 'uWebSockets.js';
import { EngineError } from '../errors.js';
import type { Disconnect } from '../protocol/close-codes.js';
import type { Conn, Engine, EngineFrame, EngineHandler, EngineOptions, ListenOptions, SendResult } from './engine.js';
import { listenError, probeListen } from './listen-failure.js';
import { CallbackGate } from './uws-callback-gate.js';
import { copyHeaders, INTERNAL_ERROR_BODY, serveHttp, writeResponse } from './uws-http.js';

/** The uWebSockets.js engine for Node. Translates only. */
export function createUwsEngine<Data>(options: EngineOptions): Engine<Data> {
  // The republished package falls back to a `ws`-based imitation when its addon does not load
  // for this Node; its corking and publish semantics are not the ones this engine is built on.
  if (typeof (uWS as { getParts?: unknown }).getParts !== 'function') {
    throw new EngineError(
      `uWebSockets.js has no native addon for Node ${process.version} (ABI ${process.versions.modules}) on ${process.platform}-${process.arch}`,
    );
  }
  return new UwsEngine<Data>(options);
}

interface UserData<Data> {
  conn: UwsConn<Data>;
}

/** uWebSockets.js ListenOptions.LIBUS_LISTEN_EXCLUSIVE_PORT (a const enum in its typings). */
const LIBUS_LISTEN_EXCLUSIVE_PORT = 1;

/** A close reason travels in a control frame: 123 bytes at most after the code. */
const MAX_CLOSE_REASON_BYTES = 123;

class UwsConn<Data> implements Conn<Data> {
  closed = false;
  /** The handler saw `open`: only then does it see `close`. */
  opened = false;
  /** Set at open, cleared at close: uWebSockets.js throws on any use of a closed socket. */
  ws: WebSocket<UserData<Data>> | undefined;
  /** What it subscribed to: one topic as it is (the gateway subscribes each socket to one), an array for more. */
  topics: string | string[] | undefined;

  constructor(
    readonly data: Data,
    private readonly engine: UwsEngine<Data>,
  ) {}

  send(frame: string): SendResult {
    return this.sendFrame(frame);
  }

  sendFrame(frame: EngineFrame): SendResult {
    if (this.closed || !this.ws) return 'dropped';
    const status = this.ws.send(frame as Uint8Array, false);
    return status === 1 ? 'sent' : status === 0 ? 'backpressure' : 'dropped';
  }

  subscribe(topic: string): void {
    if (this.closed || !this.ws) return;
    this.ws.subscribe(topic);
    if (this.topics === topic || (Array.isArray(this.topics) && this.topics.includes(topic))) return;
    if (this.topics === undefined) this.topics = topic;
    else if (Array.isArray(this.topics)) this.topics.push(topic);
    else this.topics = [this.topics, topic];
    this.engine.subscribers.add(topic, this);
  }

  bufferedAmount(): number {
    return this.closed || !this.ws ? 0 : this.ws.getBufferedAmount();
  }

  end({ code, reason }: Disconnect): void {
    if (this.closed) return;
    this.closed = true;
    // uWebSockets.js runs the close handler inside `end`, which clears `ws`.
    this.engine.gate.closingFromJs(() => this.ws?.end(code, closeReason(reason)));
  }
}

/**
 * Open sockets by topic. uWebSockets.js queues topic frames and writes them after the call,
 * so a publish learns of backpressure only by asking its subscribers.
 */
class TopicSubscribers<Data> {
  /** A topic's one subscriber as it is (a user with one socket), a Set for more. */
  private readonly byTopic = new Map<string, UwsConn<Data> | Set<UwsConn<Data>>>();

  add(topic: string, conn: UwsConn<Data>): void {
    const subscribers = this.byTopic.get(topic);
    if (subscribers === undefined) this.byTopic.set(topic, conn);
    else if (subscribers instanceof Set) subscribers.add(conn);
    else if (subscribers !== conn) this.byTopic.set(topic, new Set([subscribers, conn]));
  }

  remove(conn: UwsConn<Data>): void {
    const { topics } = conn;
    if (topics === undefined) return;
    if (typeof topics === 'string') this.removeFrom(topics, conn);
    else for (const topic of topics) this.removeFrom(topic, conn);
  }

  /** False when a subscriber other than `except` still holds unsent bytes; the gateway then checks how many. */
  allClear(topic: string, except: UwsConn<Data> | undefined): boolean {
    const subscribers = this.byTopic.get(topic);
    if (subscribers === undefined) return true;
    if (!(subscribers instanceof Set)) return subscribers === except || subscribers.bufferedAmount() === 0;
    for (const conn of subscribers) if (conn !== except && conn.bufferedAmount() > 0) return false;
    return true;
  }

  private removeFrom(topic: string, conn: UwsConn<Data>): void {
    const subscribers = this.byTopic.get(topic);
    if (subscribers === conn) this.byTopic.delete(topic);
    else if (subscribers instanceof Set && subscribers.delete(conn) && subscribers.size === 1) {
      this.byTopic.set(topic, subscribers.values().next().value!);
    }
  }
}

class UwsEngine<Data> implements Engine<Data> {
  readonly name = 'uws';
  readonly gate = new CallbackGate();
  readonly subscribers = new TopicSubscribers<Data>();
  private app: TemplatedApp | undefined;
  private listenSocket: us_listen_socket | undefined;
  private readonly conns = new Set<UwsConn<Data>>();
  private readonly decoder = new TextDecoder();

  constructor(private readonly options: EngineOptions) {}

  listen(options: ListenOptions, handler: EngineHandler<Data>): Promise<{ port: number }> {
    const app = uWS.App();
    this.app = app;
    const gate = this.gate;
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
        gate.enteredCallback();
        this.upgrade(res, req, context, handler);
      },
      open: (ws) => {
        gate.enteredCallback();
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
        gate.enteredCallback();
        const conn = ws.getUserData().conn;
        if (conn.closed || !conn.opened) return;
        // The ArrayBuffer is neutered when this callback returns: decode or copy it now.
        if (isBinary) handler.message(conn, new Uint8Array(message.slice(0)), true);
        else handler.message(conn, this.decoder.decode(message), false);
      },
      close: (ws, code, message) => {
        gate.enteredCloseCallback();
        const conn = ws.getUserData().conn;
        conn.closed = true;
        conn.ws = undefined;
        this.conns.delete(conn);
        this.subscribers.remove(conn);
        if (conn.opened) handler.close(conn, code, this.decoder.decode(message));
      },
    });
    const bridge = { maxBodyBytes: options.maxBodyBytes, bodyTimeoutMs: options.bodyTimeoutMs, log: this.options.log, enteredCallback: () => gate.enteredCallback() };
    app.any('/*', (res, req) => {
      gate.enteredCallback();
      serveHttp(res, req, handler.http, bridge);
    });
    return new Promise((resolve, reject) => {
      // Exclusive: by default uSockets sets SO_REUSEPORT, and a second pod on the same port would
      // share it silently instead of failing. The typings lack this overload; the addon has it.
      const listen = app.listen as unknown as (
        host: string,
        port: number,
        listenOptions: number,
        cb: (listenSocket: us_listen_socket | false) => void,
      ) => void;
      listen.call(app, options.host, options.port, LIBUS_LISTEN_EXCLUSIVE_PORT, (listenSocket) => {
        if (!listenSocket) {
          // uWebSockets.js gives no reason: a plain listen on the same address tells it.
          void probeListen(options.host, options.port).then((code) => reject(listenError(options.host, options.port, code)));
          return;
        }
        this.listenSocket = listenSocket;
        resolve({ port: uWS.us_socket_local_port(listenSocket as never) });
      });
    });
  }

  prepareFrame(frame: string | Uint8Array): EngineFrame {
    // uWebSockets.js sends bytes as they are (isBinary=false makes them a text frame); a string
    // would be encoded again at every publish, so it is encoded here once.
    return typeof frame === 'string' ? Buffer.from(frame) : frame;
  }

  publish(topic: string, frame: EngineFrame, from?: Conn<Data>): boolean {
    const origin = from as UwsConn<Data> | undefined;
    const clear = this.subscribers.allClear(topic, origin);
    if (origin?.ws && !origin.closed) origin.ws.publish(topic, frame as Uint8Array, false);
    else this.app!.publish(topic, frame as Uint8Array, false);
    return clear;
  }

  fanOut(work: () => void): void {
    this.gate.outsideCallbacks(work);
  }

  async stop(): Promise<void> {
    this.gate.flush();
    if (this.listenSocket) uWS.us_listen_socket_close(this.listenSocket);
    this.listenSocket = undefined;
    for (const conn of [...this.conns]) {
      if (conn.closed) continue;
      conn.closed = true;
      this.gate.closingFromJs(() => conn.ws?.close());
    }
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
      this.gate.enteredCallback();
      aborted = true;
    });
    handler.upgrade({ url, header: (name) => headers.get(name.toLowerCase()), remoteAddress }).then(
      (decision) =>
        this.gate.outsideCallbacks(() => {
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
        this.options.log.error({ err: error }, 'upgrade handler failed');
        if (aborted) return;
        res.cork(() => writeResponse(res, 500, { 'content-type': 'application/json' }, INTERNAL_ERROR_BODY, false));
      },
    );
  }
}

function closeReason(reason: string): string {
  if (Buffer.byteLength(reason) <= MAX_CLOSE_REASON_BYTES) return reason;
  // Cut on a character boundary: an invalid UTF-8 reason makes the peer fail the connection.
  let cut = reason.slice(0, MAX_CLOSE_REASON_BYTES);
  while (Buffer.byteLength(cut) > MAX_CLOSE_REASON_BYTES) cut = cut.slice(0, -1);
  return cut;
}
