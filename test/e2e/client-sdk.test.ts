import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  backoffCap,
  HeraldClient,
  TokenError,
  UsageError,
  type ConnectionState,
  type EventMap,
  type Gap,
  type HeraldClientError,
  type HeraldClientOptions,
  type HeraldEvent,
} from 'herald/client';
import { post, publish } from './harness/client.js';
import { startNatsServer, stopAllNatsServers, type NatsServer } from './harness/nats-server.js';
import { killAllPods, metricValue, startPod, type Pod } from './harness/pod.js';
import { TcpProxy } from './harness/tcp-proxy.js';
import { mintToken } from './harness/tokens.js';
import { freePort } from './harness/free-port.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

let counter = 0;
function who(prefix = 'sdk'): { userId: string; sessionId: string } {
  const n = `${process.pid.toString(36)}${Date.now().toString(36)}${(++counter).toString(36)}`;
  return { userId: `${prefix}-${n}`, sessionId: `s-${prefix}-${n}` };
}

/** A token for `id`, valid for `lifetimeS` seconds, with optional extra claims. */
function tokenFor(id: { userId: string; sessionId: string }, lifetimeS = 3600, extra: Record<string, unknown> = {}) {
  const now = Math.floor(Date.now() / 1000);
  return mintToken({ sub: id.userId, sid: id.sessionId, iat: now, exp: now + lifetimeS, ...extra });
}

async function waitUntil<T>(probe: () => T | undefined | false, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const clients = new Set<HeraldClient<EventMap>>();

/** A client on Node 20 with `ws` as its WebSocket, recording what an app would see and the URL of every socket it opens. */
function sdk<E extends EventMap = EventMap>(options: HeraldClientOptions) {
  const urls: URL[] = [];
  const Base = (options.WebSocket ?? WebSocket) as typeof WebSocket;
  const Recording = class extends Base {
    constructor(url: string) {
      urls.push(new URL(url));
      super(url);
    }
  };
  const client = new HeraldClient<E>({ backoff: { baseMs: 50, maxMs: 300 }, ...options, WebSocket: Recording as unknown as typeof WebSocket });
  clients.add(client as unknown as HeraldClient<EventMap>);
  const states: ConnectionState[] = [];
  const events: HeraldEvent[] = [];
  const errors: HeraldClientError[] = [];
  const gaps: Gap[] = [];
  client.onState((s) => states.push(s));
  client.onGap((g) => gaps.push(g));
  client.onAny((e) => events.push(e));
  client.onError((e) => errors.push(e));
  const opens = () => states.filter((s) => s.status === 'open').length;
  return {
    client,
    states,
    events,
    errors,
    gaps,
    opens,
    /** The `since` of every socket opened, in order (null: none sent). */
    sinces: () => urls.map((u) => u.searchParams.get('since')),
    urls,
    /** Waits for the n-th `open` state (counting from the start). */
    opened: (n = 1, timeoutMs?: number) => waitUntil(() => opens() >= n, `open #${n}`, timeoutMs),
    state: <S extends ConnectionState['status']>(
      status: S,
      match: (s: Extract<ConnectionState, { status: S }>) => boolean = () => true,
      timeoutMs?: number,
    ) =>
      waitUntil(
        () => states.find((s): s is Extract<ConnectionState, { status: S }> => s.status === status && match(s as never)),
        `state ${status}; saw ${JSON.stringify(states)}`,
        timeoutMs,
      ),
    event: (type: string, timeoutMs?: number) =>
      waitUntil(() => events.find((e) => e.type === type), `event ${type}`, timeoutMs),
  };
}

async function send(pod: Pod, userId: string, type: string, content: unknown = null): Promise<void> {
  const result = await publish(pod.http, { type, content, targetUsers: [userId] });
  expect(result.status).toBe(202);
}

/** A stopped client stays stopped: no reconnect attempt within several times its longest backoff. */
async function expectStaysClosed(states: ConnectionState[], tokenCalls?: () => number): Promise<void> {
  const seen = states.length;
  const calls = tokenCalls?.();
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  expect(states.slice(seen)).toEqual([]);
  expect(states.at(-1)?.status).toBe('closed');
  if (tokenCalls) expect(tokenCalls()).toBe(calls);
}

afterAll(async () => {
  await Promise.all([...clients].map((c) => c.close()));
  await killAllPods();
  await stopAllNatsServers();
});

describe('client SDK against a real gateway (bun engine)', () => {
  let pod: Pod;
  beforeAll(async () => {
    pod = await startPod();
  });

  it('connects with an async token function, goes connecting → open, and hands typed events to on()', async () => {
    const id = who();
    let calls = 0;
    const c = sdk<{ ITEM_CREATED: { item: { id: number } } }>({
      url: pod.ws,
      token: async () => (calls++, tokenFor(id)),
    });
    const ids: number[] = [];
    c.client.on('ITEM_CREATED', (event) => ids.push(event.content.item.id));
    c.client.connect();
    await c.opened();
    expect(c.states.slice(0, 2)).toEqual([
      { status: 'connecting', attempt: 0 },
      // Recovery is on by default: the welcome's log position comes with the state.
      { status: 'open', userId: id.userId, sessionId: id.sessionId, heartbeatMs: expect.any(Number), epoch: expect.any(String), seq: expect.any(Number) },
    ]);
    expect(calls).toBe(1);
    await send(pod, id.userId, 'ITEM_CREATED', { item: { id: 7 } });
    const event = await c.event('ITEM_CREATED');
    expect(event).toEqual({
      type: 'ITEM_CREATED',
      id: expect.any(String),
      content: { item: { id: 7 } },
      fromUserId: null,
      ts: expect.any(Number),
      seq: expect.any(Number),
    });
    expect(ids).toEqual([7]);
    // herald.* frames are the SDK's business: the app never sees them as events.
    expect(c.events.map((e) => e.type)).toEqual(['ITEM_CREATED']);
    expect(() => (c.client as unknown as HeraldClient).on('herald.welcome', () => {})).toThrow(UsageError);
    await c.client.close();
  });

  it('1000: a session closed by the backend stops the client and surfaces the code and reason', async () => {
    const id = who();
    let calls = 0;
    const c = sdk({ url: pod.ws, token: () => (calls++, tokenFor(id)) });
    c.client.connect();
    await c.opened();
    expect((await post(pod.http, `/v1/sessions/${id.sessionId}/disconnect`)).status).toBe(202);
    expect(await c.client.closed).toEqual({ status: 'closed', code: 1000, reason: 'session closed by the backend', by: 'server' });
    await expectStaysClosed(c.states, () => calls);
  });

  it('4003: invalidating every session of the user stops the client', async () => {
    const id = who();
    const c = sdk({ url: pod.ws, token: () => tokenFor(id) });
    c.client.connect();
    await c.opened();
    expect((await post(pod.http, `/v1/users/${id.userId}/disconnect`)).status).toBe(202);
    const closed = await c.client.closed;
    expect(closed).toMatchObject({ status: 'closed', code: 4003, by: 'server' });
    expect(closed.reason).toMatch(/invalidated/);
    await expectStaysClosed(c.states);
  });

  it('4009: a newer socket of the same session replaces the client, which stops; the newer one receives', async () => {
    const id = who();
    const older = sdk({ url: pod.ws, token: () => tokenFor(id) });
    older.client.connect();
    await older.opened();
    const newer = sdk({ url: pod.ws, token: () => tokenFor(id) });
    newer.client.connect();
    await newer.opened();
    expect(await older.client.closed).toMatchObject({ code: 4009, by: 'server' });
    await send(pod, id.userId, 'AFTER_REPLACE');
    await newer.event('AFTER_REPLACE');
    await expectStaysClosed(older.states);
    expect(older.events).toEqual([]);
    await newer.client.close();
  });

  it('1008: a frame the server refuses stops the client and says why', async () => {
    const id = who();
    let calls = 0;
    /** A platform WebSocket with a bug: it sends the token refresh as a binary frame. */
    class BinaryAuthWebSocket extends WebSocket {
      override send(data: unknown, ...rest: unknown[]): void {
        const binary = typeof data === 'string' && data.includes('"herald.auth"') ? Buffer.from(data) : data;
        (WebSocket.prototype.send as (...args: unknown[]) => void).call(this, binary, ...rest);
      }
    }
    const c = sdk({
      url: pod.ws,
      WebSocket: BinaryAuthWebSocket as unknown as typeof WebSocket,
      // The first token is refreshed after a second.
      token: () => tokenFor(id, 60, calls++ === 0 ? {} : { n: 2 }),
      refreshLeadMs: 59_000,
    });
    c.client.connect();
    const closed = await c.client.closed;
    expect(closed).toMatchObject({ code: 1008, by: 'server' });
    expect(closed.reason).toMatch(/binary frames are not accepted/);
    expect(calls).toBe(2);
    await expectStaysClosed(c.states, () => calls);
  });

  it('1009: a frame over 16 KiB stops the client', async () => {
    const id = who();
    let calls = 0;
    const c = sdk({
      url: pod.ws,
      token: () => tokenFor(id, 60, calls++ === 0 ? {} : { pad: 'x'.repeat(17_000) }),
      refreshLeadMs: 59_000,
    });
    c.client.connect();
    const closed = await c.client.closed;
    expect(closed).toMatchObject({ code: 1009, by: 'server' });
    expect(closed.reason).toMatch(/16384 bytes/);
    await expectStaysClosed(c.states, () => calls);
  });

  it('token refresh: herald.auth keeps the same socket open past the first token’s expiry', async () => {
    const id = who();
    let calls = 0;
    const firstExp = Math.floor(Date.now() / 1000) + 4;
    // 4-second tokens refreshed 2 s before they expire.
    const c = sdk({ url: pod.ws, token: () => (calls++, tokenFor(id, 4)), refreshLeadMs: 2_000 });
    c.client.connect();
    await c.opened();
    // Past the first token's exp and a tick of the server's expiry wheel.
    await waitUntil(() => Date.now() > firstExp * 1000 + 2_500, 'the first token to be long expired');
    await send(pod, id.userId, 'STILL_OPEN');
    await c.event('STILL_OPEN');
    expect(calls).toBeGreaterThanOrEqual(2);
    expect(c.states.map((s) => s.status)).toEqual(['connecting', 'open']);
    expect(c.errors).toEqual([]);
    await c.client.close();
  });

  it('4001: a refused refresh (token of another session) makes the client get a new token and reconnect', async () => {
    const id = who();
    let calls = 0;
    const c = sdk({
      url: pod.ws,
      token: () => {
        calls++;
        if (calls === 2) return tokenFor({ userId: id.userId, sessionId: `${id.sessionId}-other` }, 60);
        return tokenFor(id, 60);
      },
      refreshLeadMs: 59_000,
    });
    c.client.connect();
    const reconnecting = await c.state('reconnecting');
    expect(reconnecting).toMatchObject({ code: 4001 });
    expect(reconnecting.reason).toMatch(/refresh refused/);
    await c.opened(2);
    expect(calls).toBeGreaterThanOrEqual(3);
    await send(pod, id.userId, 'AFTER_4001');
    await c.event('AFTER_4001');
    expectResumedEveryReconnect(c);
    expect(c.gaps).toEqual([]);
    await c.client.close();
  });

  it('4001: when the token expires because its refresh keeps failing, the client reconnects with a new one', async () => {
    const id = who();
    let tokenServiceUp = true;
    const c = sdk({
      url: pod.ws,
      token: () => {
        if (!tokenServiceUp) throw new Error('token service unavailable');
        tokenServiceUp = false;
        return tokenFor(id, 3);
      },
    });
    c.client.onState((s) => {
      if (s.status === 'reconnecting') tokenServiceUp = true;
    });
    c.client.connect();
    await c.opened();
    const reconnecting = await c.state('reconnecting');
    expect(reconnecting).toMatchObject({ code: 4001, reason: 'token expired' });
    await c.opened(2);
    // The failed refreshes were reported, not swallowed.
    expect(c.errors.length).toBeGreaterThan(0);
    expect(c.errors[0]).toBeInstanceOf(TokenError);
    expectResumedEveryReconnect(c);
    expect(c.gaps).toEqual([]);
    await c.client.close();
  });

  it('4001 with a fixed token string: the client stops, since it has no way to get a new token', async () => {
    const id = who();
    const c = sdk({ url: pod.ws, token: await tokenFor(id, 2) });
    c.client.connect();
    await c.opened();
    expect(await c.client.closed).toEqual({ status: 'closed', code: 4001, reason: 'token expired', by: 'server' });
    await expectStaysClosed(c.states);
  });

  it('heartbeat loss: when a proxy stops forwarding, herald.ping finds the dead link and the client reconnects', async () => {
    const id = who();
    const proxy = await TcpProxy.start(pod.port);
    try {
      const c = sdk({ url: proxy.url, token: () => tokenFor(id), heartbeatMs: 300, pongTimeoutMs: 1_500 });
      c.client.connect();
      await c.opened();
      await send(pod, id.userId, 'BEFORE_FREEZE');
      await c.event('BEFORE_FREEZE');
      // Pings and pongs flow while the link is healthy: no false alarm over several heartbeats.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(c.states.map((s) => s.status)).toEqual(['connecting', 'open']);
      proxy.freeze('open');
      const reconnecting = await c.state('reconnecting');
      expect(reconnecting).toMatchObject({ code: 4100 });
      expect(reconnecting.reason).toMatch(/dead/);
      // A new connection through the proxy is forwarded again.
      await c.opened(2);
      await send(pod, id.userId, 'AFTER_FREEZE');
      await c.event('AFTER_FREEZE');
      expectResumedEveryReconnect(c);
      expect(c.gaps).toEqual([]);
      await c.client.close();
    } finally {
      await proxy.close();
    }
  });

  it('backoff: while nothing listens the client retries with growing, capped, jittered delays, then connects', async () => {
    const id = who();
    const deadPort = await freePort();
    const proxy = await TcpProxy.start(deadPort);
    try {
      // The highest random number shows each attempt's cap: base 40 ms doubling, capped at 200 ms.
      const c = sdk({ url: proxy.url, token: () => tokenFor(id), backoff: { baseMs: 40, maxMs: 200 }, random: () => 0.999_999 });
      c.client.connect();
      await waitUntil(() => c.states.filter((s) => s.status === 'reconnecting').length >= 5, '5 failed attempts');
      const delays = c.states.flatMap((s) => (s.status === 'reconnecting' ? [s.delayMs] : [])).slice(0, 5);
      expect(delays).toEqual([39, 79, 159, 199, 199]);
      expect(delays.every((d, attempt) => d < backoffCap(attempt, { baseMs: 40, maxMs: 200 }))).toBe(true);
      proxy.target = pod.port;
      await c.opened(1);
      await c.client.close();
    } finally {
      await proxy.close();
    }
  });

  it('close() closes from the client with 1000 and leaves nothing behind', async () => {
    const id = who();
    const c = sdk({ url: pod.ws, token: () => tokenFor(id) });
    c.client.connect();
    await c.opened();
    const before = await metricValue(pod, 'herald_connections_closed_total', '{code="1000"}');
    expect(await c.client.close()).toEqual({ status: 'closed', code: 1000, reason: 'closed by the client', by: 'client' });
    await waitUntilAsync(async () => (await metricValue(pod, 'herald_connections_closed_total', '{code="1000"}')) > before);
    await expectStaysClosed(c.states);
  });

  it('on Bun (its own WebSocket), a script that closes the client exits by itself: no timer is left', async () => {
    const id = who('bun');
    const child = spawn(`${ROOT}node_modules/.bin/bun`, [`${ROOT}test/e2e/client-sdk/bun-client.ts`], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, HERALD_URL: pod.ws, HERALD_TOKEN: await tokenFor(id) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    await waitUntil(() => stdout.includes('open'), `the bun client to open; stderr: ${stderr}`);
    await send(pod, id.userId, 'TO_BUN', { n: 1 });
    const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const [code, signal] = await once(child, 'exit');
    clearTimeout(killer);
    expect({ code, signal, stderr }).toEqual({ code: 0, signal: null, stderr: '' });
    expect(stdout.trim().split('\n').map((line) => JSON.parse(line))).toEqual([
      { status: 'open', userId: id.userId },
      { event: 'TO_BUN', content: { n: 1 } },
      { status: 'closed', code: 1000, by: 'client' },
    ]);
  });
});

describe('client SDK through a draining pod', () => {
  it('drain: on herald.reconnect the client leaves first (4000) and reconnects to another pod; none is left for 1012', async () => {
    const a = await startPod({ env: { HERALD_DRAIN_TIMEOUT_MS: '4000' } });
    const b = await startPod();
    const proxy = await TcpProxy.start(a.port);
    try {
      const id = who();
      const c = sdk({ url: proxy.url, token: () => tokenFor(id) });
      c.client.connect();
      await c.opened();
      proxy.target = b.port;
      const stopped = a.stop();
      const reconnecting = await c.state('reconnecting');
      expect(reconnecting).toMatchObject({ code: 4000, delayMs: 0, reason: 'the server is draining (herald.reconnect)' });
      await c.opened(2);
      expect(await stopped).toEqual({ code: 0, signal: null });
      expect(a.logs.find((l) => l.msg === 'drain finished')).toMatchObject({ closedWith1012: 0 });
      await send(b, id.userId, 'ON_POD_B');
      await c.event('ON_POD_B');
      // Two local pods keep two logs: the resume is told it crossed into another epoch.
      expectResumedEveryReconnect(c);
      expect(c.gaps.map((g) => g.reason)).toEqual(['new_epoch']);
      await c.client.close();
    } finally {
      await proxy.close();
    }
  });

  it('1012: a client that never got herald.reconnect is closed with 1012 and reconnects after a jittered delay', async () => {
    const a = await startPod({ env: { HERALD_DRAIN_TIMEOUT_MS: '1000' } });
    const b = await startPod();
    const proxy = await TcpProxy.start(a.port);
    // The network loses the drain notice: the client learns of the restart from the close code alone.
    proxy.dropServerFrames = (text) => text.includes('"herald.reconnect"');
    try {
      const id = who();
      const c = sdk({ url: proxy.url, token: () => tokenFor(id), backoff: { baseMs: 200, maxMs: 2_000 } });
      c.client.connect();
      await c.opened();
      proxy.target = b.port;
      await a.stop();
      const reconnecting = await c.state('reconnecting');
      expect(reconnecting).toMatchObject({ code: 1012, reason: 'pod restarting' });
      expect(reconnecting.delayMs).toBeGreaterThanOrEqual(0);
      expect(reconnecting.delayMs).toBeLessThan(200);
      expect(a.logs.find((l) => l.msg === 'drain finished')).toMatchObject({ closedWith1012: 1 });
      await c.opened(2);
      await send(b, id.userId, 'AFTER_1012');
      await c.event('AFTER_1012');
      expectResumedEveryReconnect(c);
      expect(c.gaps.map((g) => g.reason)).toEqual(['new_epoch']);
      await c.client.close();
    } finally {
      await proxy.close();
    }
  });

  it('4008: a slow consumer is closed with 4008, reconnects, and resumes: every event once, in order', { timeout: 60_000 }, async () => {
    const pod = await startPod({ env: { HERALD_MAX_BACKPRESSURE: '1024' } });
    const proxy = await TcpProxy.start(pod.port);
    try {
      const id = who();
      const c = sdk({ url: proxy.url, token: () => tokenFor(id) });
      c.client.connect();
      await c.opened();
      // The client stops reading; the pod's send buffer grows until the slow-consumer policy acts.
      proxy.freeze('open');
      const blob = 'x'.repeat(60_000);
      let published = 0;
      for (let i = 0; i < 200 && (await metricValue(pod, 'herald_slow_consumer_total')) === 0; i++) {
        const batch = Array.from({ length: 15 }, () => ({ type: 'BIG', content: { n: ++published, blob }, targetUsers: [id.userId] }));
        const result = await publish(pod.http, batch);
        expect(result.status).toBe(202);
      }
      expect(await metricValue(pod, 'herald_slow_consumer_total')).toBe(1);
      proxy.thaw();
      const reconnecting = await c.state('reconnecting', () => true, 20_000);
      expect(reconnecting).toMatchObject({ code: 4008 });
      await c.opened(2);
      await send(pod, id.userId, 'AFTER_4008');
      await c.event('AFTER_4008', 20_000);
      // What the full buffer held back is replayed on the resume: nothing lost, nothing twice.
      const big = c.events.filter((e) => e.type === 'BIG').map((e) => (e.content as { n: number }).n);
      expect(big).toEqual(Array.from({ length: published }, (_, i) => i + 1));
      expectReplayedWithoutGap(c, c.states.filter((s) => s.status === 'open').at(-1)!);
      await c.client.close();
    } finally {
      await proxy.close();
    }
  });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Publishes events 1, 2, 3… (in `content.n`) to one user, one request at a time, through
 * whichever pod `via()` names, until stopped: what an app must get exactly once and in order.
 */
function publishSeries(via: () => Pod, userId: string, everyMs = 5) {
  let published = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const n = published + 1;
      const result = await publish(via().http, { type: 'SERIES', content: { n }, targetUsers: [userId] });
      if (result.status !== 202) throw new Error(`publish ${n} answered ${result.status}: ${JSON.stringify(result.body)}`);
      published = n;
      await sleep(everyMs);
    }
  })();
  return {
    get published() {
      return published;
    },
    /** Stops and resolves with how many were published (each answered 202). */
    async stop(): Promise<number> {
      running = false;
      await loop;
      return published;
    },
  };
}

/** The `n` of every SERIES event the app got, in the order it got them. */
function series(events: HeraldEvent[]): number[] {
  return events.filter((e) => e.type === 'SERIES').map((e) => (e.content as { n: number }).n);
}

/** The first socket carried no `since`; every later one resumed from where the client was. */
/**
 * After the second open: 20 more events are published, then every event of the series has
 * reached the app exactly once and in order.
 */
async function expectEveryEventOnceAfterResume(
  c: { opened(n: number): Promise<unknown>; events: HeraldEvent[] },
  publisher: { published: number; stop(): Promise<number> },
): Promise<void> {
  await c.opened(2);
  const resumedAt = publisher.published;
  await waitUntil(() => publisher.published >= resumedAt + 20, 'events after the resume');
  const total = await publisher.stop();
  await waitUntil(() => series(c.events).at(-1) === total, `event ${total}`);
  expect(series(c.events)).toEqual(oneTo(total));
}

/** A reopened socket got a replay, no gap was reported, and every reconnect resumed with `since`. */
function expectReplayedWithoutGap(c: { gaps: unknown[] } & Parameters<typeof expectResumedEveryReconnect>[0], reopened: ConnectionState) {
  expect(reopened).toMatchObject({ gap: false });
  expect((reopened as { replayed?: number }).replayed).toBeGreaterThan(0);
  expect(c.gaps).toEqual([]);
  expectResumedEveryReconnect(c);
}

function expectResumedEveryReconnect(c: { sinces: () => (string | null)[] }): void {
  const [first, ...rest] = c.sinces();
  expect(first).toBeNull();
  expect(rest.length).toBeGreaterThan(0);
  for (const since of rest) expect(since).toMatch(/^[^:]{1,64}:\d+$/);
}

const oneTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

describe('client SDK resumes (recovery, CONTRACT §6): every missed event once and in order, or a gap', () => {
  let nats: NatsServer;
  /** One log for this file: its own stream and subject on its own nats-server. */
  const natsEnv = () => {
    const tag = `${process.pid}_${Date.now().toString(36)}`;
    return {
      HERALD_BUS: 'nats',
      HERALD_NATS_URL: nats.url,
      HERALD_NATS_STREAM: `SDK_RESUME_${tag}`,
      HERALD_NATS_SUBJECT: `herald.sdk-resume.${tag}`,
    };
  };
  beforeAll(async () => {
    nats = await startNatsServer();
  });

  it('drain on NATS: the client leaves pod A, resumes on pod B with since, and gets what it missed exactly once', { timeout: 40_000 }, async () => {
    const env = natsEnv();
    const a = await startPod({ env: { ...env, HERALD_DRAIN_TIMEOUT_MS: '3000' } });
    const b = await startPod({ env });
    let target = a;
    const id = who('drain');
    const c = sdk({
      // The way back to a pod is slow (300 ms), so events are published while the client is away.
      url: async () => {
        if (target !== a) await sleep(300);
        return target.ws;
      },
      token: () => tokenFor(id),
    });
    c.client.connect();
    await c.opened();
    const publisher = publishSeries(() => b, id.userId);
    await waitUntil(() => series(c.events).length >= 10, 'the first events');
    target = b;
    const stopped = a.stop();
    expect(await c.state('reconnecting')).toMatchObject({ code: 4000 });
    await expectEveryEventOnceAfterResume(c, publisher);
    // The first connect carried no since; the resume carried A's epoch and the last seq delivered before it.
    expect(c.urls.map((u) => u.port)).toEqual([String(a.port), String(b.port)]);
    const [none, since] = c.sinces();
    expect(none).toBeNull();
    const opens = c.states.filter((s) => s.status === 'open');
    expect(since).toMatch(new RegExp(`^${opens[0]!.epoch}:\\d+$`));
    expect(opens[1]).toMatchObject({ epoch: opens[0]!.epoch, gap: false });
    expect(opens[1]!.replayed).toBeGreaterThan(0);
    expect(c.gaps).toEqual([]);
    expect(await stopped).toEqual({ code: 0, signal: null });
    await c.client.close();
  });

  it('network cut: a dead link is found by heartbeat, and the resume replays what the dead link swallowed', { timeout: 30_000 }, async () => {
    const pod = await startPod();
    const proxy = await TcpProxy.start(pod.port);
    try {
      const id = who('cut');
      const c = sdk({ url: proxy.url, token: () => tokenFor(id), heartbeatMs: 300, pongTimeoutMs: 1_000 });
      c.client.connect();
      await c.opened();
      const publisher = publishSeries(() => pod, id.userId);
      await waitUntil(() => series(c.events).length >= 10, 'the first events');
      proxy.freeze('open');
      expect(await c.state('reconnecting')).toMatchObject({ code: 4100 });
      await expectEveryEventOnceAfterResume(c, publisher);
      expectReplayedWithoutGap(c, c.states.filter((s) => s.status === 'open')[1]!);
      await c.client.close();
    } finally {
      await proxy.close();
    }
  });

  it('a replay larger than the send buffer arrives whole (the pod closes 4008 rather than drop part of it, and the client resumes again)', { timeout: 60_000 }, async () => {
    const pod = await startPod();
    const proxy = await TcpProxy.start(pod.port);
    try {
      const id = who('bigreplay');
      let away: Promise<void> = Promise.resolve();
      let comeBack = () => {};
      const c = sdk({
        url: async () => {
          await away;
          return proxy.url;
        },
        token: () => tokenFor(id),
      });
      c.client.connect();
      await c.opened();
      await send(pod, id.userId, 'SERIES', { n: 1 });
      await waitUntil(() => series(c.events).length === 1, 'event 1');
      // The client is away while ~12 MB of events are published for it: far over what the
      // kernel and the pod's send buffer (2 × HERALD_MAX_BACKPRESSURE) take at once.
      away = new Promise((resolve) => (comeBack = resolve));
      proxy.reset();
      await c.state('reconnecting');
      const blob = 'x'.repeat(50_000);
      let n = 1;
      for (let i = 0; i < 16; i++) {
        const batch = Array.from({ length: 15 }, () => ({ type: 'SERIES', content: { n: ++n, blob }, targetUsers: [id.userId] }));
        expect((await publish(pod.http, batch)).status).toBe(202);
      }
      comeBack();
      await c.opened(2);
      await waitUntil(() => (series(c.events).at(-1) ?? 0) >= n, 'the whole replay', 20_000);
      await send(pod, id.userId, 'SERIES', { n: ++n });
      await waitUntil(() => series(c.events).at(-1) === n, `event ${n}`, 20_000);
      expect(series(c.events)).toEqual(oneTo(n));
      expect(c.gaps).toEqual([]);
      // It took more than one round: the first replay was cut short by a 4008, not by a hole.
      expect(c.states.filter((s) => s.status === 'reconnecting').map((s) => s.code)).toContain(4008);
      expectResumedEveryReconnect(c);
      await c.client.close();
    } finally {
      await proxy.close();
    }
  });

  it('new epoch: after its pod died, the client resumes against a fresh local pod, is told of the gap, and gets no duplicate', async () => {
    let pod = await startPod();
    const id = who('epoch');
    const c = sdk({ url: () => pod.ws, token: () => tokenFor(id) });
    c.client.connect();
    await c.opened();
    for (const n of [1, 2, 3]) await send(pod, id.userId, 'SERIES', { n });
    await waitUntil(() => series(c.events).length === 3, 'events 1–3');
    const firstEpoch = c.client.position!.epoch;
    const lastSeq = c.client.position!.seq;
    await pod.kill();
    pod = await startPod();
    await c.opened(2, 15_000);
    expect(c.gaps).toEqual([{ epoch: expect.any(String), reason: 'new_epoch', since: { epoch: firstEpoch, seq: lastSeq } }]);
    expect(c.gaps[0]!.epoch).not.toBe(firstEpoch);
    expect(c.states.filter((s) => s.status === 'open')[1]).toMatchObject({ gap: true, replayed: 0 });
    for (const n of [4, 5]) await send(pod, id.userId, 'SERIES', { n });
    await waitUntil(() => series(c.events).length === 5, 'events 4–5');
    expect(series(c.events)).toEqual([1, 2, 3, 4, 5]);
    expectResumedEveryReconnect(c);
    await c.client.close();
  });

  it('recovery off (HERALD_RECOVERY_WINDOW_S=0): no seq, no since, and every reconnect is a gap (no_log)', async () => {
    const pod = await startPod({ env: { HERALD_RECOVERY_WINDOW_S: '0' } });
    const proxy = await TcpProxy.start(pod.port);
    try {
      const id = who('norec');
      const c = sdk({ url: proxy.url, token: () => tokenFor(id) });
      c.client.connect();
      await c.opened();
      for (const n of [1, 2]) await send(pod, id.userId, 'SERIES', { n });
      await waitUntil(() => series(c.events).length === 2, 'events 1–2');
      expect(c.events.every((e) => e.seq === undefined)).toBe(true);
      proxy.reset();
      await c.opened(2);
      expect(c.gaps).toEqual([{ epoch: undefined, reason: 'no_log', since: undefined }]);
      expect(c.client.position).toBeUndefined();
      const opens = c.states.filter((s) => s.status === 'open');
      expect(opens.every((s) => s.epoch === undefined && s.seq === undefined)).toBe(true);
      await send(pod, id.userId, 'SERIES', { n: 3 });
      await waitUntil(() => series(c.events).length === 3, 'event 3');
      expect(series(c.events)).toEqual([1, 2, 3]);
      expect(c.sinces()).toEqual([null, null]);
      await c.client.close();
    } finally {
      await proxy.close();
    }
  });
});

async function waitUntilAsync(probe: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A port nothing listens on: taken from the OS, then released. */
