import { createConnection, createServer, type Server, type Socket } from 'node:net';

interface Pipe {
  client: Socket;
  upstream: Socket;
  frozen: boolean;
  /** Bytes read in the moment before a freeze took hold, written on thaw: a freeze loses nothing. */
  held: { to: Socket; chunk: Buffer }[];
  /** The server side closed while frozen: the client hears of it only on thaw (a frozen peer sends no FIN). */
  endOnThaw: boolean;
  end(): void;
}

export interface TcpProxyOptions {
  /**
   * `websocket` (default): the server side speaks HTTP then WebSocket frames, so chosen frames
   * can be dropped. `tcp`: bytes pass untouched, for any protocol (a broker's AMQP or NATS).
   */
  protocol?: 'websocket' | 'tcp';
  /** The same as `protocol: 'tcp'`. */
  raw?: boolean;
}

/**
 * A loopback TCP relay between a client and a server, for the failures a real network has
 * (in `websocket` mode plain HTTP requests pass through as they are, so a page and its API can
 * sit behind it too):
 * `freeze()` stops forwarding without closing anything — on the open connections and on the
 * ones accepted while frozen, like a process that stopped (SIGSTOP) whose kernel still
 * accepts, or only on the open ones, like a dead link; a close from the server side reaches
 * the client only on thaw — `cut()` drops every connection and refuses new ones, like a broker that went
 * away, and `restore()` listens again on the same port. In `websocket` mode
 * `dropServerFrames` loses chosen WebSocket frames on their way to the client, and `target`
 * can move to another pod, like a load balancer.
 */
export class TcpProxy {
  /** The port new connections go to. */
  target: number;
  /** Server → client text frames for which this returns true are not forwarded (websocket mode). */
  dropServerFrames: ((text: string) => boolean) | undefined;
  private readonly pipes = new Set<Pipe>();
  private frozen = false;
  private server: Server;

  private constructor(
    server: Server,
    readonly port: number,
    target: number,
    private readonly protocol: 'websocket' | 'tcp',
  ) {
    this.server = server;
    this.target = target;
  }

  static async start(target: number, options: TcpProxyOptions = {}): Promise<TcpProxy> {
    const server = await listen(0);
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('proxy did not get a port');
    const proxy = new TcpProxy(server, address.port, target, options.raw ? 'tcp' : (options.protocol ?? 'websocket'));
    server.on('connection', (client) => proxy.accept(client));
    return proxy;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}/ws`;
  }

  /** Open client connections. */
  get connections(): number {
    return this.pipes.size;
  }

  /**
   * Stops forwarding in both directions; nothing is closed. `all` (default): the open
   * connections and the ones yet to come, like a stopped process. `open`: only the open ones,
   * like a link a NAT forgot; new connections pass.
   */
  freeze(scope: 'all' | 'open' = 'all'): void {
    this.frozen = scope === 'all';
    for (const pipe of this.pipes) this.setFrozen(pipe, true);
  }

  /** Resets every open connection at once, as a network blip; new ones are forwarded as usual. */
  reset(): void {
    for (const pipe of this.pipes) {
      pipe.client.destroy();
      pipe.upstream.destroy();
    }
    this.pipes.clear();
  }

  /** Forwards again, on the frozen connections and on new ones. */
  thaw(): void {
    this.frozen = false;
    for (const pipe of this.pipes) this.setFrozen(pipe, false);
  }

  /** Drops every connection (both ends see it close) and refuses new ones until `restore()`. */
  async cut(): Promise<void> {
    this.destroyPipes();
    if (this.server.listening) await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Accepts connections again on the same port after `cut()`. */
  async restore(): Promise<void> {
    if (this.server.listening) return;
    this.server = await listen(this.port);
    this.server.on('connection', (client) => this.accept(client));
  }

  /** The end of a partition (`cut()`): connections are accepted again. */
  heal(): Promise<void> {
    return this.restore();
  }

  async close(): Promise<void> {
    await this.cut();
  }

  private destroyPipes(): void {
    for (const pipe of this.pipes) {
      pipe.client.destroy();
      pipe.upstream.destroy();
    }
    this.pipes.clear();
  }

  private setFrozen(pipe: Pipe, frozen: boolean): void {
    pipe.frozen = frozen;
    if (frozen) {
      pipe.client.pause();
      pipe.upstream.pause();
    } else {
      for (const { to, chunk } of pipe.held.splice(0)) to.write(chunk);
      pipe.client.resume();
      pipe.upstream.resume();
      if (pipe.endOnThaw) pipe.end();
    }
  }

  private accept(client: Socket): void {
    const upstream = createConnection({ host: '127.0.0.1', port: this.target });
    const end = () => {
      this.pipes.delete(pipe);
      client.destroy();
      upstream.destroy();
    };
    const pipe: Pipe = { client, upstream, frozen: false, held: [], endOnThaw: false, end };
    this.pipes.add(pipe);
    if (this.frozen) this.setFrozen(pipe, true);
    const upstreamEnded = () => {
      if (pipe.frozen) pipe.endOnThaw = true;
      else end();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', upstreamEnded).on('close', upstreamEnded);
    // A WebSocket upgrade is read frame by frame (to drop some); plain HTTP (a page, an API call) passes as it is.
    let toClient: ServerFrameFilter | undefined;
    let first = true;
    client.on('data', (chunk) => {
      if (first && this.protocol === 'websocket' && /^upgrade:\s*websocket/im.test(chunk.toString('latin1'))) {
        toClient = new ServerFrameFilter((text) => this.dropServerFrames?.(text) ?? false);
      }
      first = false;
      if (pipe.frozen) pipe.held.push({ to: upstream, chunk });
      else upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      const out = toClient ? toClient.push(chunk) : chunk;
      if (out.length === 0) return;
      if (pipe.frozen) pipe.held.push({ to: client, chunk: out });
      else client.write(out);
    });
  }
}

async function listen(port: number): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

/**
 * Passes the HTTP upgrade response through, then whole WebSocket frames (server frames are
 * never masked, RFC 6455 §5.1), leaving out the text frames the predicate picks.
 */
class ServerFrameFilter {
  private buffer = Buffer.alloc(0);
  private headerDone = false;

  constructor(private readonly drop: (text: string) => boolean) {}

  push(chunk: Buffer): Buffer {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    const out: Buffer[] = [];
    if (!this.headerDone) {
      const end = this.buffer.indexOf('\r\n\r\n');
      if (end < 0) return Buffer.alloc(0);
      out.push(this.buffer.subarray(0, end + 4));
      this.buffer = this.buffer.subarray(end + 4);
      this.headerDone = true;
    }
    for (;;) {
      const frame = this.nextFrame();
      if (!frame) break;
      const opcode = frame[0]! & 0x0f;
      const text = opcode === 1 ? frame.subarray(frame.length - this.payloadLength(frame)).toString() : '';
      if (!(opcode === 1 && this.drop(text))) out.push(frame);
    }
    return Buffer.concat(out);
  }

  private nextFrame(): Buffer | undefined {
    const b = this.buffer;
    if (b.length < 2) return undefined;
    let header = 2;
    let length = b[1]! & 0x7f;
    if (length === 126) {
      if (b.length < 4) return undefined;
      length = b.readUInt16BE(2);
      header = 4;
    } else if (length === 127) {
      if (b.length < 10) return undefined;
      length = Number(b.readBigUInt64BE(2));
      header = 10;
    }
    if (b.length < header + length) return undefined;
    const frame = b.subarray(0, header + length);
    this.buffer = b.subarray(header + length);
    return frame;
  }

  private payloadLength(frame: Buffer): number {
    const length = frame[1]! & 0x7f;
    return length === 126 ? frame.readUInt16BE(2) : length === 127 ? Number(frame.readBigUInt64BE(2)) : length;
  }
}
