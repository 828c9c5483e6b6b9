import net from 'node:net';

interface Waiting {
  body: Buffer;
  resolve: (status: number) => void;
  reject: (error: Error) => void;
}

/** One HTTP/1.1 keep-alive connection: one request at a time, the response read by its length. */
class Connection {
  private buffer: Buffer = Buffer.alloc(0);
  private current: Waiting | undefined;
  private failed: Error | undefined;

  constructor(
    readonly socket: net.Socket,
    private readonly onIdle: (connection: Connection) => void,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error) => this.fail(error));
    socket.on('close', () => this.fail(new Error('connection closed')));
  }

  send(request: Waiting, head: string): void {
    if (this.failed) return request.reject(this.failed);
    this.current = request;
    this.socket.write(Buffer.concat([Buffer.from(`${head}Content-Length: ${request.body.length}\r\n\r\n`, 'latin1'), request.body]));
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const end = this.buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = this.buffer.subarray(0, end).toString('latin1');
      const status = Number(head.slice(9, 12));
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      let total: number;
      if (length) total = end + 4 + Number(length[1]);
      else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
        const last = this.buffer.indexOf('\r\n0\r\n\r\n', end);
        if (last < 0) return;
        total = last + 7;
      } else total = end + 4;
      if (this.buffer.length < total) return;
      this.buffer = this.buffer.subarray(total);
      const request = this.current;
      this.current = undefined;
      request?.resolve(status);
      this.onIdle(this);
    }
  }

  private fail(error: Error): void {
    this.failed ??= error;
    const request = this.current;
    this.current = undefined;
    request?.reject(error);
  }
}

/**
 * POSTs over a fixed number of keep-alive connections opened up front, requests queued while
 * all are busy. Unlike fetch it never opens a connection later: during a connection storm a
 * new connection waits in the server's full accept queue for seconds, which would measure the
 * kernel's SYN retries, not the server.
 */
export class KeepAlivePool {
  private readonly all: Connection[] = [];
  private readonly idle: Connection[] = [];
  private readonly queue: Waiting[] = [];
  private readonly head: string;

  private constructor(url: URL, token: string) {
    this.head =
      `POST ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${token}\r\n` +
      'Content-Type: application/json\r\nConnection: keep-alive\r\n';
  }

  static async open(url: string, token: string, connections: number): Promise<KeepAlivePool> {
    const target = new URL(url);
    const pool = new KeepAlivePool(target, token);
    const sockets = await Promise.all(
      Array.from(
        { length: connections },
        () =>
          new Promise<net.Socket>((resolve, reject) => {
            const socket = net.connect({ host: target.hostname, port: Number(target.port) }, () => resolve(socket));
            socket.once('error', reject);
          }),
      ),
    );
    for (const socket of sockets) pool.all.push(new Connection(socket, (c) => pool.release(c)));
    pool.idle.push(...pool.all);
    return pool;
  }

  /** Resolves with the response status. */
  post(body: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const request = { body: Buffer.from(body), resolve, reject };
      const connection = this.idle.pop();
      if (connection) connection.send(request, this.head);
      else this.queue.push(request);
    });
  }

  close(): void {
    for (const c of this.all) c.socket.destroy();
    this.idle.length = 0;
  }

  private release(connection: Connection): void {
    const next = this.queue.shift();
    if (next) connection.send(next, this.head);
    else this.idle.push(connection);
  }
}
