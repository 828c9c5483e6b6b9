import { createConnection, createServer, type Server, type Socket } from 'node:net';

interface Pipe {
  client: Socket;
  upstream: Socket;
  frozen: boolean;
}

/**
 * A loopback TCP proxy between a client and a pod (or between a pod and its broker), for the
 * failures a real network has: `freeze()` stops forwarding on the open connections without
 * closing them (a dead link that neither side notices), `cut()` breaks every connection and
 * refuses new ones until `heal()` (a partition both sides notice), `dropServerFrames` loses
 * chosen WebSocket frames on their way to the client, and `target` can move to another pod,
 * like a load balancer. With `raw: true` it forwards bytes without reading them (any protocol).
 */
export class TcpProxy {
  /** The pod port new connections go to. */
  target: number;
  /** Server → client text frames for which this returns true are not forwarded. */
  dropServerFrames: ((text: string) => boolean) | undefined;
  private readonly pipes = new Set<Pipe>();
  private refusing = false;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    target: number,
    private readonly raw: boolean,
  ) {
    this.target = target;
  }

  static async start(target: number, options: { raw?: boolean } = {}): Promise<TcpProxy> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('proxy did not get a port');
    const proxy = new TcpProxy(server, address.port, target, options.raw ?? false);
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

  /** Stops forwarding in both directions on every open connection; they stay open. */
  freeze(): void {
    for (const pipe of this.pipes) {
      pipe.frozen = true;
      pipe.client.pause();
      pipe.upstream.pause();
    }
  }

  /** Forwards again on the frozen connections. */
  thaw(): void {
    for (const pipe of this.pipes) {
      pipe.frozen = false;
      pipe.client.resume();
      pipe.upstream.resume();
    }
  }

  /** A partition: every open connection breaks, and new ones are refused until `heal()`. */
  cut(): void {
    this.refusing = true;
    for (const pipe of this.pipes) {
      pipe.client.destroy();
      pipe.upstream.destroy();
    }
    this.pipes.clear();
  }

  /** Connections are accepted again after `cut()`. */
  heal(): void {
    this.refusing = false;
  }

  async close(): Promise<void> {
    for (const pipe of this.pipes) {
      pipe.client.destroy();
      pipe.upstream.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    if (this.refusing) {
      client.destroy();
      return;
    }
    const upstream = createConnection({ host: '127.0.0.1', port: this.target });
    const pipe: Pipe = { client, upstream, frozen: false };
    this.pipes.add(pipe);
    const end = () => {
      this.pipes.delete(pipe);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.on('data', (chunk) => {
      if (!pipe.frozen) upstream.write(chunk);
    });
    const toClient = this.raw ? undefined : new ServerFrameFilter((text) => this.dropServerFrames?.(text) ?? false);
    upstream.on('data', (chunk) => {
      if (pipe.frozen) return;
      const out = toClient ? toClient.push(chunk) : chunk;
      if (out.length > 0) client.write(out);
    });
  }
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
