/**
 * The client side of bench/time-wait.ts, one process per run. Node runs its build
 * (`bun build --target=node`) for the `ws`, `node` (undici, --experimental-websocket) and raw
 * kinds; Bun runs this file for the `bun` kind (Bun's own WebSocket). One JSON line per result
 * on stdout.
 *
 *   hold   <json>   open N sockets of a kind, close each with 4000 on herald.reconnect (as the SDK does)
 *   cycles <json>   open-welcome-close N sockets over raw TCP, C at a time (TIME_WAIT on demand)
 *   probe  <json>   time N new raw connections (TCP connect, then the welcome), C at a time
 *   chromium <json> hold, with the sockets in a headless Chromium page (Debian's /usr/bin/chromium)
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { signHs256 } from '../lib/hs256.js';

export type HoldKind = 'ws' | 'bun' | 'node' | 'raw-wait' | 'raw-half-close';

interface Common {
  port: number;
  secret: string;
  /** Source address of raw sockets (127.0.0.x), so their ports can be told apart and reused. */
  localAddress?: string;
}

const [mode = '', json = '{}'] = process.argv.slice(2);
const config = JSON.parse(json) as Common & Record<string, unknown>;
const out = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);

function token(n: number): string {
  const now = Math.floor(Date.now() / 1000);
  return signHs256({ sub: `tw-user-${n}`, sid: `tw-session-${n}`, iat: now, exp: now + 3600 }, config.secret);
}

function url(n: number): string {
  return `ws://127.0.0.1:${config.port}/ws?access_token=${token(n)}`;
}

/** A masked client close frame with a code and no reason (RFC 6455 §5.5.1). */
function closeFrame(code: number): Buffer {
  const mask = randomBytes(4);
  const payload = Buffer.from([code >> 8, code & 0xff]);
  return Buffer.concat([Buffer.from([0x88, 0x80 | payload.length]), mask, payload.map((b, i) => b ^ mask[i % 4]!)]);
}

interface RawTimes {
  connectMs: number;
  welcomeMs: number;
  localPort: number;
}

/**
 * One raw WebSocket: TCP connect, upgrade, welcome. `close` then says who shuts TCP first:
 * `wait` sends the close frame and waits for the server to end the connection (what `ws` and
 * browsers do), `half-close` sends it and shuts its own side at once (FIN right behind it).
 */
function rawSocket(n: number, onReconnect?: (socket: Socket) => void): Promise<{ socket: Socket; times: RawTimes }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let connectMs = 0;
    let text = '';
    let welcomed = false;
    const socket = connect({ host: '127.0.0.1', port: config.port, localAddress: config.localAddress });
    socket.setNoDelay(true);
    socket.once('connect', () => {
      connectMs = performance.now() - started;
      const key = randomBytes(16).toString('base64');
      socket.write(
        `GET /ws?access_token=${token(n)} HTTP/1.1\r\nHost: 127.0.0.1:${config.port}\r\nUpgrade: websocket\r\n` +
          `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
      if (!welcomed && text.includes('herald.welcome')) {
        welcomed = true;
        resolve({ socket, times: { connectMs, welcomeMs: performance.now() - started, localPort: socket.localPort ?? 0 } });
      }
      if (welcomed && onReconnect && text.includes('herald.reconnect')) {
        const handler = onReconnect;
        onReconnect = undefined;
        handler(socket);
      }
      if (text.length > 4096) text = text.slice(-2048);
    });
    socket.once('error', (error) => (welcomed ? undefined : reject(error)));
    socket.once('close', () => (welcomed ? undefined : reject(new Error(`closed before the welcome: ${text.slice(0, 200)}`))));
  });
}

function closeRaw(socket: Socket, style: 'wait' | 'half-close'): Promise<void> {
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.write(closeFrame(4000));
  if (style === 'half-close') socket.end();
  return closed;
}

/** The platform WebSocket of this kind, with the WHATWG API the SDK uses. */
async function webSocketClass(kind: HoldKind): Promise<new (url: string) => WebSocket> {
  if (kind === 'ws') return (await import('ws')).default as unknown as new (url: string) => WebSocket;
  const platform = (globalThis as { WebSocket?: new (url: string) => WebSocket }).WebSocket;
  if (!platform) throw new Error(`no platform WebSocket for kind ${kind} (Node needs --experimental-websocket)`);
  return platform;
}

async function hold(): Promise<void> {
  const kind = config.kind as HoldKind;
  const count = Number(config.count);
  let open = 0;
  let closed = 0;
  const allClosed = new Promise<void>((resolve) => {
    const done = () => {
      closed++;
      if (closed === count) resolve();
    };
    const opened: Promise<void>[] = [];
    for (let n = 0; n < count; n++) {
      if (kind === 'raw-wait' || kind === 'raw-half-close') {
        const style = kind === 'raw-wait' ? 'wait' : 'half-close';
        opened.push(
          rawSocket(n, (socket) => void closeRaw(socket, style)).then(({ socket }) => {
            open++;
            socket.once('close', done);
          }),
        );
        continue;
      }
      opened.push(
        webSocketClass(kind).then(
          (Impl) =>
            new Promise<void>((resolveOpen, rejectOpen) => {
              const ws = new Impl(url(n));
              ws.onmessage = (event: MessageEvent) => {
                const frame = JSON.parse(String(event.data)) as { type: string };
                if (frame.type === 'herald.welcome') {
                  open++;
                  resolveOpen();
                }
                // Leave at once rather than after afterMs: what matters here is who closes TCP first.
                if (frame.type === 'herald.reconnect') ws.close(4000, 'leaving a draining pod');
              };
              ws.onerror = () => rejectOpen(new Error('socket error before the welcome'));
              ws.onclose = () => done();
            }),
        ),
      );
    }
    Promise.all(opened).then(
      () => out({ open }),
      (error: unknown) => {
        out({ error: String(error), open });
        process.exit(1);
      },
    );
  });
  await allClosed;
  out({ closed });
  // Bun's and undici's sockets may still be finishing their TCP close: let them.
  setTimeout(() => process.exit(0), 500);
}

async function pool<T>(count: number, concurrency: number, task: (n: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        const n = next++;
        results[n] = await task(n);
      }
    }),
  );
  return results;
}

async function cycles(): Promise<void> {
  const started = performance.now();
  const count = Number(config.count);
  const concurrency = Number(config.concurrency ?? 100);
  let failed = 0;
  await pool(count, concurrency, async (n) => {
    try {
      const { socket } = await rawSocket(n % concurrency);
      await closeRaw(socket, 'wait');
    } catch {
      failed++;
    }
  });
  out({ cycles: count, failed, ms: Math.round(performance.now() - started) });
}

async function probe(): Promise<void> {
  const count = Number(config.count);
  const concurrency = Number(config.concurrency ?? 50);
  let failed = 0;
  const times = await pool(count, concurrency, async (n) => {
    try {
      const { socket, times } = await rawSocket(100_000 + (n % concurrency));
      // Half-close, so that the probe itself adds few TIME_WAIT entries on the pod.
      await closeRaw(socket, 'half-close');
      return times;
    } catch {
      failed++;
      return undefined;
    }
  });
  const ok = times.filter((t): t is RawTimes => t !== undefined);
  out({ probed: count, failed, times: ok });
}

async function chromium(): Promise<void> {
  const { chromium: browserType } = await import('playwright-core');
  const count = Number(config.count);
  const browser = await browserType.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  try {
    const page = await browser.newPage();
    const urls = Array.from({ length: count }, (_, n) => url(n));
    type Counters = { heraldOpen: number; heraldClosed: number };
    await page.evaluate((list) => {
      const state = globalThis as unknown as Counters;
      state.heraldOpen = 0;
      state.heraldClosed = 0;
      for (const target of list) {
        const ws = new WebSocket(target);
        ws.onmessage = (event) => {
          const frame = JSON.parse(String(event.data)) as { type: string };
          if (frame.type === 'herald.welcome') state.heraldOpen++;
          if (frame.type === 'herald.reconnect') ws.close(4000, 'leaving a draining pod');
        };
        ws.onclose = () => state.heraldClosed++;
      }
    }, urls);
    await page.waitForFunction((n) => (globalThis as unknown as Counters).heraldOpen === n, count, { timeout: 60_000, polling: 100 });
    out({ open: count });
    await page.waitForFunction((n) => (globalThis as unknown as Counters).heraldClosed === n, count, { timeout: 60_000, polling: 100 });
    out({ closed: count });
    await new Promise((resolve) => setTimeout(resolve, 500));
  } finally {
    await browser.close();
  }
}

const modes: Record<string, () => Promise<void>> = { hold, cycles, probe, chromium };
const run = modes[mode];
if (!run) {
  out({ error: `unknown mode ${mode}` });
  process.exit(2);
}
run().catch((error: unknown) => {
  out({ error: String(error) });
  process.exit(1);
});
