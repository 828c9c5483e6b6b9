import { STATUS_CODES } from 'node:http';
import type { HttpRequest as UwsRequest, HttpResponse as UwsResponse } from 'uWebSockets.js';
import { IncompleteBodyError, PayloadTooLargeError } from '../errors.js';
import type { HttpRequest, HttpResponse } from '../http/http-types.js';
import type { Logger } from '../log.js';

export const INTERNAL_ERROR_BODY = '{"error":"internal_error","message":"the request failed; see the gateway log"}';

export interface UwsHttpBridge {
  maxBodyBytes: number;
  bodyTimeoutMs: number;
  log: Logger;
  /** Tells the callback gate that a uWebSockets.js callback (abort, body chunk) is running. */
  enteredCallback(): void;
}

/**
 * Plain HTTP on uWebSockets.js: copies the native request into the neutral HttpRequest before
 * its callback returns, runs the handler, and writes the answer unless the client went away.
 */
export function serveHttp(
  res: UwsResponse,
  req: UwsRequest,
  handle: (request: HttpRequest) => Promise<HttpResponse>,
  bridge: UwsHttpBridge,
): void {
  const method = req.getCaseSensitiveMethod();
  const path = req.getUrl();
  const headers = copyHeaders(req);
  // uWebSockets.js delivers the body only to a reader attached before this callback returns.
  const body = new BodyReader(res, Number(headers.get('content-length') ?? '0'), bridge, () => bridge.enteredCallback());
  // After an abort nothing is written; a body still awaited fails, so the handler finishes.
  let aborted = false;
  res.onAborted(() => {
    bridge.enteredCallback();
    aborted = true;
    body.abort();
  });
  const request: HttpRequest = {
    method,
    path,
    header: (name) => headers.get(name.toLowerCase()),
    body: () => body.read(),
  };
  handle(request).then(
    (response: HttpResponse) => {
      if (aborted) return;
      const close = body.mustClose || response.headers?.connection === 'close';
      res.cork(() => writeResponse(res, response.status, response.headers, response.body, close));
    },
    (error: unknown) => {
      bridge.log.error({ err: error, path }, 'http handler failed');
      if (aborted) return;
      res.cork(() => writeResponse(res, 500, { 'content-type': 'application/json' }, INTERNAL_ERROR_BODY, true));
    },
  );
}

/**
 * Reads a request body as uWebSockets.js streams it. A body over the limit is read to its end
 * and dropped (so the client sees the 413); one over four times the limit is cut at once and
 * the connection closes after the answer, like Bun.serve's `maxRequestBodySize`. A body not
 * there within `bodyTimeoutMs` of being asked for fails as stalled (answered, then closed).
 */
class BodyReader {
  mustClose = false;
  /** With a declared length within the limit: the body's one buffer, most chunks copied into it once. */
  private buffer: Buffer | undefined;
  /** A copy of each chunk before the buffer is taken, or without one (no or a wrong Content-Length). */
  private readonly chunks: Buffer[] = [];
  /** The Content-Length when within the limit, else 0. */
  private readonly declared: number;
  private readonly limit: number;
  private readonly timeoutMs: number;
  private size = 0;
  private done = false;
  private failure: Error | undefined;
  private waiter: { resolve: (body: Uint8Array) => void; reject: (error: Error) => void } | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(res: UwsResponse, declared: number, options: { maxBodyBytes: number; bodyTimeoutMs: number }, onCallback: () => void) {
    const limit = options.maxBodyBytes;
    this.limit = limit;
    this.timeoutMs = options.bodyTimeoutMs;
    this.declared = declared <= limit ? declared : 0;
    if (declared > limit * 4) this.cut();
    res.onData((chunk, isLast) => {
      onCallback();
      if (this.done) return;
      const at = this.size;
      this.size += chunk.byteLength;
      if (this.size > limit * 4) this.cut();
      else {
        // The chunk's memory is reused once this callback returns: copy what is kept.
        if (this.size <= limit) this.keep(chunk, at);
        if (isLast) this.finish();
      }
    });
  }

  private keep(chunk: ArrayBuffer, at: number): void {
    // Half the declared body in hand before its buffer is taken: a client that declares a large
    // body and sends a byte holds no more memory than it sent twice over.
    if (!this.buffer && this.size <= this.declared && this.size * 2 >= this.declared) {
      this.buffer = Buffer.allocUnsafe(this.declared);
      let offset = 0;
      for (const kept of this.chunks) offset += kept.copy(this.buffer, offset);
      this.chunks.length = 0;
    }
    if (this.buffer && this.size > this.buffer.length) {
      // More than declared: the buffer is only a first chunk now.
      this.chunks.push(this.buffer.subarray(0, at));
      this.buffer = undefined;
    }
    if (this.buffer) this.buffer.set(new Uint8Array(chunk), at);
    else this.chunks.push(Buffer.from(new Uint8Array(chunk)));
  }

  read(): Promise<Uint8Array> {
    if (this.done) return this.settled();
    this.timer = setTimeout(() => {
      this.mustClose = true;
      this.fail(new IncompleteBodyError('stalled', `the request body did not arrive within ${this.timeoutMs} ms`));
    }, this.timeoutMs);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  /** The connection went away: a body still awaited will never come. */
  abort(): void {
    this.fail(new IncompleteBodyError('cut', 'the connection closed before the request body arrived'));
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
    this.buffer = undefined;
    this.chunks.length = 0;
    this.settle();
  }

  private settle(): void {
    this.done = true;
    clearTimeout(this.timer);
    if (this.waiter) this.settled().then(this.waiter.resolve, this.waiter.reject);
  }

  private settled(): Promise<Uint8Array> {
    if (this.failure) return Promise.reject(this.failure);
    const buffer = this.buffer;
    return Promise.resolve(buffer ? buffer.subarray(0, this.size) : Buffer.concat(this.chunks, this.size));
  }
}

/** Every header of a native request, repeated ones joined with a comma. */
export function copyHeaders(req: UwsRequest): Map<string, string> {
  const headers = new Map<string, string>();
  req.forEach((name, value) => {
    const seen = headers.get(name);
    headers.set(name, seen === undefined ? value : `${seen}, ${value}`);
  });
  return headers;
}

export function writeResponse(
  res: UwsResponse,
  status: number,
  headers: Record<string, string> | undefined,
  body: string,
  closeConnection: boolean,
): void {
  res.writeStatus(`${status} ${STATUS_CODES[status] ?? ''}`);
  // uWebSockets.js writes `Connection: close` itself when it closes.
  if (headers) for (const name in headers) if (!closeConnection || name !== 'connection') res.writeHeader(name, headers[name]!);
  res.end(body, closeConnection);
}
