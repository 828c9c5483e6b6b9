import { connect } from 'node:net';

export interface RawExchange {
  /** Everything the server wrote, as Latin-1 text. */
  text: string;
  /** The status of the first response line, or 0 when nothing came. */
  status: number;
  /** The response body parsed as JSON, when it is. */
  body: any;
  /** The server closed the connection before `waitMs`. */
  closedByServer: boolean;
}

/**
 * Writes `chunks` to a pod over a bare TCP connection (each after `gapMs`) and reads until the
 * server closes or `waitMs` pass: for requests no HTTP client sends (stalled or cut bodies).
 * `end: 'cut'` closes the connection after the last chunk instead of waiting.
 */
export function rawHttp(
  port: number,
  chunks: (string | Uint8Array)[],
  options: { waitMs?: number; gapMs?: number; end?: 'wait' | 'cut' } = {},
): Promise<RawExchange> {
  const waitMs = options.waitMs ?? 5_000;
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    let closedByServer = false;
    socket.on('data', (data) => (text += data.toString('latin1')));
    socket.on('error', () => {});
    const finish = () => {
      clearTimeout(timer);
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      const raw = text.slice(text.indexOf('\r\n\r\n') + 4);
      let body: unknown;
      try {
        body = JSON.parse(raw);
      } catch {
        body = undefined;
      }
      resolve({ text, status, body, closedByServer });
    };
    socket.on('close', () => {
      closedByServer = !cutByUs;
      finish();
    });
    let cutByUs = false;
    const timer = setTimeout(() => {
      cutByUs = true;
      socket.destroy();
    }, waitMs);
    void (async () => {
      for (const chunk of chunks) {
        socket.write(chunk);
        if (options.gapMs) await new Promise((r) => setTimeout(r, options.gapMs));
      }
      if (options.end === 'cut') {
        cutByUs = true;
        socket.destroy();
      }
    })();
  });
}
