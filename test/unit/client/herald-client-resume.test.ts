import { afterEach, describe, expect, it } from 'vitest';
import { HeraldClient, type ConnectionState, type Gap, type HeraldEvent, type WebSocketConstructor } from '../../../src/client/index.js';

/** A platform WebSocket the test drives by hand: it records its URL and what the client sends. */
class FakeSocket {
  static all: FakeSocket[] = [];
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  closedWith: number | undefined;

  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }

  get since(): string | null {
    return new URL(this.url).searchParams.get('since');
  }

  send(): void {}

  close(code?: number): void {
    this.closedWith = code;
  }

  frame(value: object): void {
    this.onmessage?.({ data: JSON.stringify(value) });
  }

  welcome(fields: object = {}): void {
    this.frame({ type: 'herald.welcome', userId: 'u1', sessionId: 's1', heartbeatMs: 0, ...fields });
  }

  event(seq?: number): void {
    this.frame({ type: 'E', id: `e${seq}`, content: seq ?? null, fromUserId: null, ts: 1, ...(seq === undefined ? {} : { seq }) });
  }

  serverClose(code: number): void {
    this.onclose?.({ code, reason: '' });
  }
}

const clients: HeraldClient[] = [];
afterEach(async () => {
  await Promise.all(clients.map((c) => c.close()));
  clients.length = 0;
  FakeSocket.all = [];
});

function client(url: string | (() => string) = 'ws://pod/ws') {
  const c = new HeraldClient({
    url,
    token: 'not-a-jwt',
    WebSocket: FakeSocket as unknown as WebSocketConstructor,
    backoff: { baseMs: 1, maxMs: 1 },
  });
  clients.push(c);
  const events: unknown[] = [];
  const gaps: Gap[] = [];
  const states: ConnectionState[] = [];
  c.onAny((e: HeraldEvent) => events.push(e.content));
  c.onGap((g) => gaps.push(g));
  c.onState((s) => states.push(s));
  c.onError(() => {});
  return { c, events, gaps, states };
}

/** The socket the client opens next (it opens after an await and a backoff timer). */
async function nextSocket(n: number): Promise<FakeSocket> {
  for (let i = 0; i < 200 && FakeSocket.all.length < n; i++) await new Promise((resolve) => setTimeout(resolve, 2));
  const socket = FakeSocket.all[n - 1];
  if (!socket) throw new Error(`socket #${n} was never opened`);
  return socket;
}

describe('HeraldClient resumes from the last delivered event', () => {
  it('first connect without since; every reconnect with since of the last event; replay overlaps dropped', async () => {
    const { c, events, gaps, states } = client();
    c.connect();
    const first = await nextSocket(1);
    expect(first.since).toBeNull();
    first.welcome({ epoch: 'E1', seq: 1024 });
    expect(states.at(-1)).toEqual({ status: 'open', userId: 'u1', sessionId: 's1', heartbeatMs: 0, epoch: 'E1', seq: 1024 });
    first.event(2048);
    first.event(3072);
    first.serverClose(1006);

    const second = await nextSocket(2);
    expect(second.since).toBe('E1:3072');
    second.welcome({ epoch: 'E1', seq: 6144, gap: false, replayed: 3 });
    expect(states.at(-1)).toMatchObject({ status: 'open', gap: false, replayed: 3 });
    // A replay that overlaps what was delivered: the app sees 3072 once.
    second.event(3072);
    second.event(4096);
    second.event(5120);
    second.event(7168);
    second.serverClose(4008);

    const third = await nextSocket(3);
    expect(third.since).toBe('E1:7168');
    expect(events).toEqual([2048, 3072, 4096, 5120, 7168]);
    expect(gaps).toEqual([]);
  });

  it('resumes after herald.reconnect (drain) and after 1012, asking the url function each time', async () => {
    const urls = ['ws://a/ws', 'ws://b/ws', 'ws://c/ws'];
    let calls = 0;
    const { c, events } = client(() => urls[calls++]!);
    c.connect();
    const a = await nextSocket(1);
    expect(a.url).toMatch(/^ws:\/\/a\/ws\?access_token=/);
    a.welcome({ epoch: 'E1', seq: 5 });
    a.frame({ type: 'herald.reconnect', afterMs: 0 });
    const b = await nextSocket(2);
    expect(a.closedWith).toBe(4000);
    expect(b.url).toMatch(/^ws:\/\/b\/ws\?/);
    expect(b.since).toBe('E1:5');
    b.welcome({ epoch: 'E1', seq: 9, gap: false, replayed: 1 });
    b.event(7);
    b.serverClose(1012);
    const cc = await nextSocket(3);
    expect(cc.url).toMatch(/^ws:\/\/c\/ws\?/);
    expect(cc.since).toBe('E1:9');
    expect(events).toEqual([7]);
  });

  it('tells the app of a gap: gap:true, a new epoch, a server without log; never on the first connect', async () => {
    const { c, gaps, events } = client();
    c.connect();
    (await nextSocket(1)).welcome({ epoch: 'E1', seq: 10 });
    FakeSocket.all[0]!.serverClose(1006);
    const s2 = await nextSocket(2);
    s2.welcome({ epoch: 'E1', seq: 99, gap: true, replayed: 0 });
    expect(gaps).toEqual([{ epoch: 'E1', reason: 'incomplete', since: { epoch: 'E1', seq: 10 } }]);
    s2.serverClose(1006);
    const s3 = await nextSocket(3);
    expect(s3.since).toBe('E1:99');
    s3.welcome({ epoch: 'E2', seq: 0, gap: true, replayed: 0 });
    // A new epoch's seqs start low again: not duplicates.
    s3.event(1024);
    expect(events).toEqual([1024]);
    s3.serverClose(1006);
    const s4 = await nextSocket(4);
    s4.welcome({ gap: true, replayed: 0 });
    s4.event();
    s4.serverClose(1006);
    const s5 = await nextSocket(5);
    expect(s5.since).toBeNull();
    s5.welcome({});
    expect(gaps.map((g) => g.reason)).toEqual(['incomplete', 'new_epoch', 'no_log', 'no_log']);
    expect(events).toEqual([1024, null]);
  });

  it('connect() after a stop starts afresh: no since, no gap', async () => {
    const { c, gaps } = client();
    c.connect();
    (await nextSocket(1)).welcome({ epoch: 'E1', seq: 10 });
    FakeSocket.all[0]!.serverClose(4003);
    await c.closed;
    c.connect();
    const again = await nextSocket(2);
    expect(again.since).toBeNull();
    again.welcome({ epoch: 'E1', seq: 20 });
    expect(gaps).toEqual([]);
    expect(c.position).toEqual({ epoch: 'E1', seq: 20 });
  });
});
