import WebSocket from 'ws';
import { TEST_PUBLISH_TOKEN } from './tokens.js';

export interface Frame {
  type: string;
  [key: string]: unknown;
}

export interface Closed {
  code: number;
  reason: string;
}

/** A real WebSocket client that records every frame it receives. */
export class TestClient {
  readonly frames: Frame[] = [];
  readonly closed: Promise<Closed>;
  private waiters: { match: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];

  private constructor(readonly ws: WebSocket) {
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    });
    ws.on('message', (data, isBinary) => {
      const frame = isBinary ? { type: '(binary)' } : (JSON.parse(data.toString()) as Frame);
      this.frames.push(frame);
      this.waiters = this.waiters.filter((w) => {
        if (!w.match(frame)) return true;
        w.resolve(frame);
        return false;
      });
    });
    ws.on('error', () => {});
  }

  /** Opens a socket and waits for `herald.welcome`. */
  static async connect(
    url: string,
    token: string,
    options: { via?: 'query' | 'header'; origin?: string; scheme?: string } = {},
  ) {
    const via = options.via ?? 'query';
    const ws = new WebSocket(via === 'query' ? `${url}?access_token=${encodeURIComponent(token)}` : url, {
      headers: {
        ...(via === 'header' ? { authorization: `${options.scheme ?? 'Bearer'} ${token}` } : {}),
        ...(options.origin ? { origin: options.origin } : {}),
      },
    });
    const client = new TestClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused with ${res.statusCode}`)));
      ws.once('error', reject);
    });
    await client.next((f) => f.type === 'herald.welcome', 5_000);
    return client;
  }

  /** The frames that are events (not `herald.*`). */
  get events(): Frame[] {
    return this.frames.filter((f) => !f.type.startsWith('herald.'));
  }

  /** Resolves with the first frame (already received or coming) that matches. */
  next(match: (f: Frame) => boolean, timeoutMs = 5_000): Promise<Frame> {
    const seen = this.frames.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter = { match, resolve: (f: Frame) => (clearTimeout(timer), resolve(f)) };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(this.frames.slice(-5))}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  event(type: string, timeoutMs?: number): Promise<Frame> {
    return this.next((f) => f.type === type, timeoutMs);
  }

  send(frame: object | string | Buffer): void {
    this.ws.send(typeof frame === 'object' && !Buffer.isBuffer(frame) ? JSON.stringify(frame) : frame);
  }

  /** Waits for the server's close, failing after `timeoutMs`. */
  async closedWithin(timeoutMs = 5_000): Promise<Closed> {
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([
      this.closed,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`socket still open after ${timeoutMs} ms`)), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  close(): Promise<Closed> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(1000);
    return this.closed;
  }
}

/** An upgrade the server refused: its status and JSON body. */
export async function refusedUpgrade(
  url: string,
  token: string | undefined,
  options: { origin?: string; authorization?: string } = {},
): Promise<{ status: number; body: { error: string; message: string } }> {
  const ws = new WebSocket(token === undefined ? url : `${url}?access_token=${encodeURIComponent(token)}`, {
    headers: {
      ...(options.origin ? { origin: options.origin } : {}),
      ...(options.authorization ? { authorization: options.authorization } : {}),
    },
  });
  return new Promise((resolve, reject) => {
    ws.once('open', () => {
      ws.terminate();
      reject(new Error('the upgrade was accepted'));
    });
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
    ws.once('error', () => {});
  });
}

export interface PublishResult {
  status: number;
  body: any;
}

/** POST a raw body to a /v1 path of a pod. */
export async function post(
  base: string,
  path: string,
  body?: unknown,
  options: { token?: string | null; scheme?: string; contentType?: string; raw?: string | Uint8Array } = {},
): Promise<PublishResult> {
  const headers: Record<string, string> = { 'content-type': options.contentType ?? 'application/json' };
  const token = options.token === undefined ? TEST_PUBLISH_TOKEN : options.token;
  if (token !== null) headers.authorization = `${options.scheme ?? 'Bearer'} ${token}`;
  const response = await fetch(`${base}${path}`, {
    method: 'POST',
    headers,
    body: (options.raw as BodyInit | undefined) ?? (body === undefined ? undefined : JSON.stringify(body)),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not JSON: the test sees the text.
  }
  return { status: response.status, body: parsed };
}

export function publish(base: string, events: unknown): Promise<PublishResult> {
  return post(base, '/v1/events', events);
}

/**
 * Proves that every client has received everything sent before now: publishes a marker to
 * each client's user and waits for it. Used to show a client did NOT receive an event.
 */
export async function settle(base: string, clients: { client: TestClient; userId: string }[]): Promise<void> {
  const marker = `SETTLE_${Math.random().toString(36).slice(2)}`;
  const users = [...new Set(clients.map((c) => c.userId))];
  const result = await publish(base, { type: marker, content: null, targetUsers: users });
  if (result.status !== 202) throw new Error(`settle publish failed: ${JSON.stringify(result)}`);
  await Promise.all(clients.map(({ client }) => client.event(marker)));
}
