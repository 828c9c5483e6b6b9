/**
 * A load-generating client process: holds many raw-TCP WebSockets, counts the event frames
 * they receive from the byte stream, and records latency when asked. Driven by the bench over
 * stdin/stdout (lib/worker-side.ts).
 */
import * as hdr from 'hdr-histogram-js';
import net from 'node:net';
import { FrameReader, maskedFrame, Opcode, readTimestamp } from '../lib/frame-reader.js';
import { monotonicMicros } from '../lib/clock.js';
import { signHs256 } from '../lib/hs256.js';
import { serveCommands } from '../lib/worker-side.js';
import type {
  ChurnCommand,
  ChurnResult,
  ClientProtocol,
  ClientStats,
  ConnectCommand,
  ConnectResult,
  LatencyReport,
  ResumeCommand,
  ResumeResult,
} from './client-protocol.js';

const HANDSHAKE_TIMEOUT_MS = 30_000;
const PING = maskedFrame(Opcode.Text, Buffer.from('{"type":"herald.ping"}'));
const SIO_CONNECT = maskedFrame(Opcode.Text, Buffer.from('40'));
const SIO_PONG = maskedFrame(Opcode.Text, Buffer.from('3'));
const CLOSE_1000 = maskedFrame(Opcode.Close, Buffer.from([0x03, 0xe8]));

const stats: ClientStats = { events: 0, bytes: 0, open: 0, closes: {} };
let histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
const sockets = new Set<BenchSocket>();

interface SocketOptions {
  host: string;
  port: number;
  path: string;
  localAddress: string | undefined;
  protocol: ClientProtocol;
  latency: boolean;
  /** Called for each frame after ready (churn uses it to wait for the pong). */
  onEventFrame?: () => void;
  /** Recovery (§6): read the welcome's epoch/seq and each event frame's seq into this record. */
  track?: Tracked;
  /** With `track`: this connection resumes (`since`), so the welcome's seq is not where the client stands. */
  resuming?: boolean;
}

/** A socket of the resume storm: what its client remembers across connections (§6). */
interface Tracked {
  port: number;
  /** The upgrade path of the first connection; a resume reuses its token, as a client SDK does. */
  path: string;
  localAddress: string | undefined;
  epoch: string | undefined;
  /** The seq of the last event frame received, or the welcome's seq before any. */
  lastSeq: number;
  socket: BenchSocket | undefined;
  /** The last welcome, parsed. */
  welcome: Record<string, unknown> | undefined;
  /** Event frames since the last welcome. */
  received: number;
  /** Event frames whose seq was not above the one before. */
  outOfOrder: number;
  /** Event frames without a seq. */
  noSeq: number;
}

const tracked: Tracked[] = [];
const SEQ_KEY = Buffer.from('"seq":');

/** The `"seq":N` the server appends at the end of an event frame; -1 when absent. */
function readSeq(payload: Buffer): number {
  const at = payload.lastIndexOf(SEQ_KEY);
  if (at < 0) return -1;
  let seq = 0;
  for (let i = at + SEQ_KEY.length; i < payload.length; i++) {
    const c = payload[i]!;
    if (c < 0x30 || c > 0x39) break;
    seq = seq * 10 + (c - 0x30);
  }
  return seq;
}

/** One raw-TCP WebSocket. Counts into the process-wide stats once ready. */
class BenchSocket {
  readonly tcp: net.Socket;
  readonly ready: Promise<void>;
  readonly closed: Promise<number>;
  private state: 'handshake' | 'init' | 'ready' | 'closed' = 'handshake';
  private handshake = '';
  private readonly reader: FrameReader;
  private markReady!: () => void;
  private fail!: (error: Error) => void;
  private markClosed!: (code: number) => void;
  private closeCode = 1006;
  private closeSent = false;
  private framesSeen = 0;
  private bytesSeen = 0;

  constructor(private readonly options: SocketOptions) {
    this.ready = new Promise((resolve, reject) => {
      this.markReady = resolve;
      this.fail = reject;
    });
    this.closed = new Promise((resolve) => (this.markClosed = resolve));
    this.reader = new FrameReader(
      (opcode, length) =>
        opcode >= 8 ||
        this.state !== 'ready' ||
        options.latency ||
        options.track !== undefined ||
        (options.protocol === 'socketio' && length <= 2),
      (opcode, fin, length, payload) => this.onFrame(opcode, fin, length, payload),
    );
    this.tcp = net.connect({ host: options.host, port: options.port, localAddress: options.localAddress });
    this.tcp.setNoDelay(true);
    this.tcp.on('connect', () => {
      this.tcp.write(
        `GET ${options.path} HTTP/1.1\r\nHost: ${options.host}:${options.port}\r\nUpgrade: websocket\r\n` +
          'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
    });
    this.tcp.on('data', (chunk: Buffer) => this.onData(chunk));
    this.tcp.on('error', (error) => this.fail(error));
    this.tcp.on('close', () => {
      if (this.state !== 'closed') this.fail(new Error(`closed during ${this.state}`));
      if (this.state === 'ready' || this.state === 'closed') {
        stats.open--;
        stats.closes[this.closeCode] = (stats.closes[this.closeCode] ?? 0) + 1;
      }
      this.state = 'closed';
      sockets.delete(this);
      this.markClosed(this.closeCode);
    });
    this.ready.catch(() => this.tcp.destroy());
  }

  send(frame: Buffer): void {
    if (this.state !== 'closed') this.tcp.write(frame);
  }

  /** Client-initiated close: close frame, then wait for the server to end the TCP connection. */
  close(): Promise<number> {
    if (this.state === 'ready' && !this.closeSent) {
      this.closeSent = true;
      this.tcp.write(CLOSE_1000);
    } else if (this.state !== 'ready') this.tcp.destroy();
    return this.closed;
  }

  /** State for failure messages. */
  describe(): string {
    return `state ${this.state}, ${this.framesSeen} frames, ${this.bytesSeen} bytes, close code ${this.closeCode}`;
  }

  private onData(chunk: Buffer): void {
    stats.bytes += chunk.length;
    this.bytesSeen += chunk.length;
    if (this.state !== 'handshake') {
      this.reader.push(chunk);
      return;
    }
    this.handshake += chunk.toString('latin1');
    const end = this.handshake.indexOf('\r\n\r\n');
    if (end < 0) return;
    const statusLine = this.handshake.slice(0, this.handshake.indexOf('\r\n'));
    if (!statusLine.includes(' 101 ')) {
      const body = this.handshake.slice(end + 4, end + 200);
      this.fail(new Error(`${statusLine} ${body}`.trim()));
      return;
    }
    this.state = 'init';
    const rest = Buffer.from(this.handshake.slice(end + 4), 'latin1');
    this.handshake = '';
    if (rest.length > 0) this.reader.push(rest);
  }

  private onFrame(opcode: number, fin: boolean, length: number, payload: Buffer | undefined): void {
    this.framesSeen++;
    if (opcode === Opcode.Close) {
      this.closeCode = payload && payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
      if (this.state === 'ready' && !this.closeSent) this.tcp.write(CLOSE_1000);
      this.closeSent = true;
      this.state = 'closed';
      this.tcp.end();
      return;
    }
    if (opcode === Opcode.Ping) {
      this.send(maskedFrame(Opcode.Pong, payload ?? Buffer.alloc(0)));
      return;
    }
    if (opcode === Opcode.Pong || !fin) return;
    if (this.state === 'init') {
      this.onInitFrame(payload!);
      return;
    }
    if (this.state !== 'ready') return;
    if (this.options.protocol === 'socketio' && length === 1 && payload?.[0] === 0x32) {
      this.send(SIO_PONG);
      return;
    }
    stats.events++;
    const track = this.options.track;
    if (track && payload) {
      const seq = readSeq(payload);
      if (seq < 0) track.noSeq++;
      else if (seq <= track.lastSeq) track.outOfOrder++;
      else track.lastSeq = seq;
      track.received++;
    }
    if (this.options.latency && payload) {
      const sentAt = readTimestamp(payload);
      if (sentAt >= 0) histogram.recordValue(Math.max(1, monotonicMicros() - sentAt));
    }
    this.options.onEventFrame?.();
  }

  private onInitFrame(payload: Buffer): void {
    if (this.options.protocol !== 'socketio') {
      const track = this.options.track;
      if (track) {
        const welcome = JSON.parse(payload.toString('utf8')) as Record<string, unknown>;
        track.welcome = welcome;
        track.received = 0;
        if (typeof welcome.epoch === 'string') track.epoch = welcome.epoch;
        if (!this.options.resuming && typeof welcome.seq === 'number') track.lastSeq = welcome.seq;
      }
      this.becomeReady();
      return;
    }
    const text = payload.toString('latin1');
    if (text.startsWith('0{')) this.send(SIO_CONNECT);
    else if (text.startsWith('40')) this.becomeReady();
    else if (text === '2') this.send(SIO_PONG);
    else this.fail(new Error(`unexpected Socket.IO frame during connect: ${text.slice(0, 80)}`));
  }

  private becomeReady(): void {
    this.state = 'ready';
    stats.open++;
    sockets.add(this);
    this.markReady();
  }
}

function pathFor(protocol: ClientProtocol, user: number, session: string, secret: string | undefined): string {
  if (protocol === 'plain') return `/ws?user=u${user}`;
  if (protocol === 'socketio') return `/socket.io/?EIO=4&transport=websocket&user=u${user}`;
  const now = Math.floor(Date.now() / 1000);
  return `/ws?access_token=${signHs256({ sub: `u${user}`, sid: session, iat: now, exp: now + 7200 }, secret!)}`;
}

function timeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

/** Runs `count` jobs with at most `concurrency` in flight. */
async function pool(count: number, concurrency: number, job: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(concurrency, count) }, async () => {
    while (next < count) await job(next++);
  });
  await Promise.all(lanes);
}

async function connect(command: ConnectCommand): Promise<ConnectResult> {
  const started = Date.now();
  const jobs: { port: number; user: number }[] = [];
  for (const target of command.targets) for (let u = target.from; u < target.to; u++) jobs.push({ port: target.port, user: u });
  let opened = 0;
  let failed = 0;
  const errors: string[] = [];
  await pool(jobs.length, command.concurrency, async (index) => {
    const { port, user } = jobs[index]!;
    const path = pathFor(command.protocol, user, `s${user}`, command.jwtSecret);
    const localAddress = command.localAddresses[index % command.localAddresses.length];
    let track: Tracked | undefined;
    if (command.track) {
      track = { port, path, localAddress, epoch: undefined, lastSeq: 0, socket: undefined, welcome: undefined, received: 0, outOfOrder: 0, noSeq: 0 };
      tracked.push(track);
    }
    const socket = new BenchSocket({
      host: command.host,
      port,
      path,
      localAddress,
      protocol: command.protocol,
      latency: command.latency,
      track,
    });
    if (track) track.socket = socket;
    try {
      await timeout(socket.ready, HANDSHAKE_TIMEOUT_MS, 'handshake');
      opened++;
    } catch (error) {
      failed++;
      if (errors.length < 5) errors.push(`u${user}: ${(error as Error).message}`);
    }
  });
  return { opened, failed, errors, ms: Date.now() - started };
}

async function churn(command: ChurnCommand): Promise<ChurnResult> {
  const started = Date.now();
  let failed = 0;
  const errors: string[] = [];
  await pool(command.cycles, command.concurrency, async (index) => {
    let pong!: () => void;
    const ponged = new Promise<void>((resolve) => (pong = resolve));
    const socket = new BenchSocket({
      host: command.host,
      port: command.port,
      path: pathFor('herald', index % 1000, `${command.prefix}${index}`, command.jwtSecret),
      localAddress: command.localAddresses[index % command.localAddresses.length],
      protocol: 'herald',
      latency: false,
      onEventFrame: () => pong(),
    });
    try {
      await timeout(socket.ready, HANDSHAKE_TIMEOUT_MS, 'handshake');
      socket.send(PING);
      await timeout(ponged, 3_000, 'pong');
      const code = await timeout(socket.close(), 10_000, 'close');
      if (code !== 1000) throw new Error(`closed with ${code}`);
    } catch (error) {
      failed++;
      if (errors.length < 5) errors.push(`${(error as Error).message} (${socket.describe()})`);
      socket.tcp.destroy();
    }
  });
  return { cycles: command.cycles, failed, errors, ms: Date.now() - started };
}

/** Every tracked socket's TCP connection cut at once, no close frame: a network blip (the server sees 1006). */
async function drop(): Promise<{ dropped: number }> {
  const open = tracked.filter((t) => t.socket !== undefined);
  for (const t of open) t.socket!.tcp.destroy();
  await Promise.all(open.map((t) => t.socket!.closed));
  for (const t of open) t.socket = undefined;
  return { dropped: open.length };
}

/**
 * Every tracked socket opens again at once (at most `concurrency` handshakes in flight), with
 * `since=<epoch>:<last seq>` (mode `since`) or as a new connection (mode `plain`), and waits for
 * `expected` event frames after its welcome. Answers with each socket's time to done.
 */
async function resume(command: ResumeCommand): Promise<ResumeResult> {
  const started = performance.now();
  const doneMs: number[] = [];
  const errors: string[] = [];
  let failed = 0;
  let gaps = 0;
  let wrongReplayed = 0;
  for (const t of tracked) {
    t.outOfOrder = 0;
    t.noSeq = 0;
  }
  const concurrency = command.concurrency > 0 ? command.concurrency : tracked.length;
  await pool(tracked.length, concurrency, async (index) => {
    const t = tracked[index]!;
    const path = command.mode === 'since' ? `${t.path}&since=${encodeURIComponent(`${t.epoch}:${t.lastSeq}`)}` : t.path;
    let complete!: () => void;
    const completed = new Promise<void>((resolve) => (complete = resolve));
    const socket = new BenchSocket({
      host: command.host,
      port: t.port,
      path,
      localAddress: t.localAddress,
      protocol: 'herald',
      latency: false,
      track: t,
      resuming: command.mode === 'since',
      onEventFrame: () => {
        if (t.received >= command.expected) complete();
      },
    });
    t.socket = socket;
    try {
      await timeout(socket.ready, HANDSHAKE_TIMEOUT_MS, 'handshake');
      if (command.expected > 0 && t.received < command.expected) await timeout(completed, command.timeoutMs, 'replay');
      doneMs.push(Math.round((performance.now() - started) * 10) / 10);
      const welcome = t.welcome ?? {};
      if (welcome.gap === true) gaps++;
      if (command.mode === 'since' && (welcome.gap !== false || welcome.replayed !== command.expected)) wrongReplayed++;
    } catch (error) {
      failed++;
      if (errors.length < 5) errors.push(`${(error as Error).message} (${socket.describe()}, welcome ${JSON.stringify(t.welcome)})`);
    }
  });
  const ms = performance.now() - started;
  // Frames beyond `expected` (a replay sent twice) show up here once the stragglers are in.
  const received = tracked.reduce((a, t) => a + t.received, 0);
  return {
    resumed: doneMs.length,
    failed,
    errors,
    ms,
    doneMs,
    gaps,
    wrongReplayed,
    received,
    outOfOrder: tracked.reduce((a, t) => a + t.outOfOrder, 0),
    noSeq: tracked.reduce((a, t) => a + t.noSeq, 0),
  };
}

async function closeAll(): Promise<{ closed: number }> {
  const all = [...sockets];
  await Promise.all(all.map((s) => timeout(s.close(), 10_000, 'close').catch(() => s.tcp.destroy())));
  return { closed: all.length };
}

function takeLatency(): LatencyReport {
  const report = { histogram: hdr.encodeIntoCompressedBase64(histogram), count: histogram.totalCount };
  histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  return report;
}

serveCommands(async (command) => {
  switch (command.cmd) {
    case 'connect':
      return connect(command as unknown as ConnectCommand);
    case 'stats':
      return stats;
    case 'latency':
      return takeLatency();
    case 'churn':
      return churn(command as unknown as ChurnCommand);
    case 'close-all':
      return closeAll();
    case 'drop':
      return drop();
    case 'resume':
      return resume(command as unknown as ResumeCommand);
    case 'tracked':
      return { sockets: tracked.length, received: tracked.reduce((a, t) => a + t.received, 0), withEpoch: tracked.filter((t) => t.epoch).length };
    default:
      throw new Error(`unknown command ${command.cmd}`);
  }
});
