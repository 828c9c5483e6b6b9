import type { Server, ServerWebSocket, WebSocketHandler } from 'bun';
import { IncompleteBodyError, PayloadTooLargeError } from '../errors.js';
import { Deadlines, type Deadline } from './deadlines.js';
import { requestTarget } from './request-target.js';
import type { HttpRequest } from '../http/http-types.js';
import type { Disconnect } from '../protocol/close-codes.js';
import type {
  Conn,
  Engine,
  EngineFrame,
  EngineHandler,
  EngineOptions,
  ListenOptions,
  MountOptions,
  SendResult,
  ServeHandlers,
} from './engine.js';
import { listenError } from './listen-failure.js';

/** The Bun.serve engine: uWebSockets inside Bun. Translates only. */
export function createBunEngine<Data>(options: EngineOptions): Engine<Data> {
  return new BunEngine<Data>(options);
}

/** Bun's per-socket `data` is the Conn itself: no wrapper object per socket. */
type SocketData<Data> = BunConn<Data>;

class BunConn<Data> implements Conn<Data> {
  closed = false;
  /** Set at open, cleared at close so a closed socket holds no native handle. */
  ws: ServerWebSocket<SocketData<Data>> | undefined;

  constructor(readonly data: Data) {}

  send(frame: string): SendResult {
    if (this.closed || !this.ws) return 'dropped';
    const status = this.ws.sendText(frame);
    return status > 0 ? 'sent' : status === -1 ? 'backpressure' : 'dropped';
  }

  sendFrame(frame: EngineFrame): SendResult {
    return this.send(frame as string);
  }

  subscribe(topic: string): void {
    if (!this.closed) this.ws?.subscribe(topic);
  }

  bufferedAmount(): number {
    return this.closed || !this.ws ? 0 : this.ws.getBufferedAmount();
  }

  end({ code, reason }: Disconnect): void {
    if (this.closed) return;
    this.closed = true;
    this.ws?.close(code, reason);
  }
}

class BunEngine<Data> implements Engine<Data> {
  readonly name = 'bun';
  /** The server sockets live on: Bun.serve's own, or the app's (seen on its first request) when mounted. */
  private server: Server<SocketData<Data>> | undefined;
  /** Mounted only: the open sockets, which `stop` closes since it cannot stop the app's server. */
  private mountedConns: Set<BunConn<Data>> | undefined;
  private readonly decoder = new TextDecoder();

  constructor(private readonly options: EngineOptions) {}

  async listen(options: ListenOptions, handler: EngineHandler<Data>): Promise<{ port: number }> {
    try {
      this.server = Bun.serve<SocketData<Data>>({
        hostname: options.host,
        port: options.port,
        // The gateway reads bodies itself to answer 413 with a JSON body; Bun's own cut is a backstop.
        maxRequestBodySize: options.maxBodyBytes * 4,
        fetch: this.fetchHandler(options, handler),
        // A handler that throws (a gateway bug): logged, and the client gets a JSON 500.
        error: (error) => this.internalError(error),
        websocket: this.websocketHandler(options, handler),
      });
    } catch (error) {
      throw listenError(options.host, options.port, (error as NodeJS.ErrnoException).code, error);
    }
    return { port: this.server.port ?? options.port };
  }

  mount(options: MountOptions, handler: EngineHandler<Data>): ServeHandlers {
    const fetch = this.fetchHandler(options, handler);
    this.mountedConns = new Set();
    const handlers: ServeHandlers<SocketData<Data>> = {
      fetch: async (req, server) => {
        this.server ??= server;
        try {
          return await fetch(req, server);
        } catch (error) {
          return this.internalError(error);
        }
      },
      websocket: this.websocketHandler(options, handler),
    };
    return handlers as unknown as ServeHandlers;
  }

  private fetchHandler(options: MountOptions, handler: EngineHandler<Data>) {
    return async (req: Request, server: Server<SocketData<Data>>): Promise<Response | undefined> => {
      const url = requestTarget(req.url);
      if (url.pathname === options.socketPath && req.headers.get('upgrade')?.toLowerCase() === 'websocket') {
        const decision = await handler.upgrade({
          url: url.pathname + url.search,
          header: (name) => req.headers.get(name) ?? undefined,
          remoteAddress: server.requestIP(req)?.address ?? '',
        });
        if (!decision.accept) {
          return new Response(decision.body, { status: decision.status, headers: { 'content-type': 'application/json' } });
        }
        if (server.upgrade(req, { data: new BunConn(decision.data) })) return undefined;
        return new Response('{"error":"upgrade_failed","message":"not a valid WebSocket upgrade"}', {
          status: 400,
          headers: { 'content-type': 'application/json' },
        });
      }
      const response = await handler.http(toHttpRequest(req, url, options));
      return new Response(response.body, { status: response.status, headers: response.headers });
    };
  }

  private websocketHandler(options: MountOptions, handler: EngineHandler<Data>): WebSocketHandler<SocketData<Data>> {
    return {
      maxPayloadLength: options.maxPayloadLength,
      idleTimeout: options.idleTimeoutS,
      sendPings: true,
      backpressureLimit: options.backpressureLimit,
      // Bun would close a slow consumer without a close frame (1006); the gateway closes it with 4008.
      closeOnBackpressureLimit: false,
      perMessageDeflate: false,
      open: (ws) => {
        const conn = ws.data;
        conn.ws = ws;
        this.mountedConns?.add(conn);
        handler.open(conn);
      },
      message: (ws, message) => {
        const conn = ws.data;
        if (conn.closed) return;
        if (typeof message === 'string') handler.message(conn, message, false);
        else handler.message(conn, message, true);
      },
      close: (ws, code, reason) => {
        const conn = ws.data;
        conn.closed = true;
        conn.ws = undefined;
        this.mountedConns?.delete(conn);
        handler.close(conn, code, reason);
      },
    };
  }

  private internalError(error: unknown): Response {
    this.options.log.error({ err: error }, 'request handler failed');
    return new Response(INTERNAL_ERROR_BODY, { status: 500, headers: { 'content-type': 'application/json' } });
  }

  prepareFrame(frame: string | Uint8Array): EngineFrame {
    // Bun sends a string as a text frame and bytes as a binary one: decode once per event.
    return typeof frame === 'string' ? frame : this.decoder.decode(frame);
  }

  publish(topic: string, frame: EngineFrame, from?: Conn<Data>): boolean {
    const origin = from as BunConn<Data> | undefined;
    if (origin?.ws && !origin.closed) return origin.ws.publishText(topic, frame as string) > 0;
    // Mounted and no request seen yet: no socket can be subscribed.
    if (!this.server) return true;
    return this.server.publish(topic, frame as string) > 0;
  }

  fanOut(work: () => void): void {
    // Bun.serve corks a publish's subscribers wherever it is called from.
    work();
  }

  async stop(): Promise<void> {
    if (this.mountedConns) {
      // The app's server is the app's to stop: close only the gateway's sockets.
      for (const conn of [...this.mountedConns]) conn.ws?.terminate();
      this.mountedConns.clear();
      return;
    }
    await this.server?.stop(true);
    this.server = undefined;
  }
}

const INTERNAL_ERROR_BODY = '{"error":"internal_error","message":"the request failed; see the gateway log"}';

function toHttpRequest(req: Request, url: { pathname: string }, options: MountOptions): HttpRequest {
  return {
    method: req.method,
    path: url.pathname,
    header: (name) => req.headers.get(name) ?? undefined,
    body: () => readBodyInTime(req, options.maxBodyBytes, options.bodyTimeoutMs),
  };
}

/** The deadlines of the request bodies being read, on one timer for the process. */
const bodyDeadlines = new Deadlines();

async function readBodyInTime(req: Request, limit: number, timeoutMs: number): Promise<Uint8Array> {
  let deadline: Deadline | undefined;
  const late = new Promise<never>((_, reject) => {
    deadline = bodyDeadlines.add(timeoutMs, () =>
      reject(new IncompleteBodyError('stalled', `the request body did not arrive within ${timeoutMs} ms`)),
    );
  });
  try {
    return await Promise.race([readBody(req, limit), late]);
  } catch (error) {
    if (error instanceof PayloadTooLargeError || error instanceof IncompleteBodyError) throw error;
    // Bun rejects the read with an AbortError when the connection closes under it.
    throw new IncompleteBodyError('cut', 'the connection closed before the request body arrived', { cause: error });
  } finally {
    deadline!.cancel();
  }
}

async function readBody(req: Request, limit: number): Promise<Uint8Array> {
  const length = req.headers.get('content-length');
  const declared = Number(length ?? '0');
  if (declared > limit) throw new PayloadTooLargeError(`body over ${limit} bytes`);
  // A declared length within the limit is read in one piece; a chunked body is counted as it streams.
  if (length !== null) return new Uint8Array(await req.arrayBuffer());
  if (!req.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of req.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.length;
    if (size > limit) throw new PayloadTooLargeError(`body over ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}
