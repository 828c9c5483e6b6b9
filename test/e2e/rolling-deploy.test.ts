import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { HeraldClient, type ConnectionState, type Gap } from 'herald/client';
// Through the package entry, as a backend service imports it.
import { connectNatsPublisher, type HeraldPublisher } from 'herald/publisher';
import { createLogger } from '../../src/log.js';
import { startNatsServer, stopAllNatsServers, type NatsServer } from './harness/nats-server.js';
import { killAllPods, startPod, type Pod } from './harness/pod.js';
import { mintToken } from './harness/tokens.js';

/**
 * A rolling deploy under load loses nothing (CONTRACT §6): two pods on one NATS event log,
 * 500 SDK clients, a publisher at ~1,000 events/s to random users; meanwhile pod A is drained,
 * pod C started, pod B drained, pod D started. Every client's app must get every event of its
 * user exactly once and in publish order.
 */

const USERS = 250;
const SESSIONS_PER_USER = 2;
const EVENTS_PER_S = 1_000;
const PUBLISH_MS = 20_000;
const TICK_MS = 10;
const DRAIN_TIMEOUT_MS = 4_000;
/** When, after the publisher starts, each step of the deploy happens. */
const STEPS_MS = { stopA: 3_000, startC: 6_000, stopB: 10_000, startD: 13_000 };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Recorder {
  userIndex: number;
  client: HeraldClient;
  /** `n` of every event the app got, in order. */
  received: number[];
  gaps: Gap[];
  states: ConnectionState[];
}

describe('rolling deploy on NATS: nothing lost, duplicated or reordered', () => {
  let nats: NatsServer;
  let publisher: HeraldPublisher | undefined;
  const recorders: Recorder[] = [];
  const tag = `${process.pid}_${Date.now().toString(36)}`;
  let env: Record<string, string>;

  beforeAll(async () => {
    nats = await startNatsServer();
    env = {
      HERALD_BUS: 'nats',
      HERALD_NATS_URL: nats.url,
      HERALD_NATS_STREAM: `ROLLING_${tag}`,
      HERALD_NATS_SUBJECT: `herald.rolling.${tag}`,
      HERALD_DRAIN_TIMEOUT_MS: String(DRAIN_TIMEOUT_MS),
    };
  });

  afterAll(async () => {
    await Promise.all(recorders.map((r) => r.client.close()));
    await publisher?.close();
    await killAllPods();
    await stopAllNatsServers();
  });

  it('500 clients, ~1,000 events/s for 20 s, pods A and B replaced by C and D: every event once, in order', { timeout: 90_000 }, async () => {
    const startedAt = Date.now();
    const elapsed = () => `${((Date.now() - startedAt) / 1000).toFixed(1)}s`;
    // The pods that are up and not draining: where a (re)connecting client goes.
    const live: Pod[] = [];
    const startLive = async (name: string) => {
      const pod = await startPod({ env, readyMessage: 'listening' });
      live.push(pod);
      console.log(`[rolling] ${elapsed()} pod ${name} up on ${pod.port}`);
      return pod;
    };
    const drain = (pod: Pod, name: string) => {
      live.splice(live.indexOf(pod), 1);
      console.log(`[rolling] ${elapsed()} SIGTERM pod ${name}`);
      return pod.stop().then((exit) => {
        const finished = pod.logs.find((l) => l.msg === 'drain finished');
        console.log(`[rolling] ${elapsed()} pod ${name} exited ${JSON.stringify(exit)}, closed with 1012: ${finished?.closedWith1012}`);
        return exit;
      });
    };
    const a = await startLive('A');
    const b = await startLive('B');

    const now = Math.floor(Date.now() / 1000);
    for (let i = 0; i < USERS * SESSIONS_PER_USER; i++) {
      const userIndex = Math.floor(i / SESSIONS_PER_USER);
      const token = await mintToken({ sub: `rd-u${userIndex}`, sid: `rd-s${i}-${tag}`, iat: now, exp: now + 3600 });
      let first = true;
      const client = new HeraldClient({
        // First spread over A and B; every reconnect goes to a pod that is up.
        url: () => {
          const pod = first ? [a, b][i % 2]! : live[Math.floor(Math.random() * live.length)]!;
          first = false;
          return pod.ws;
        },
        token,
        WebSocket,
        backoff: { baseMs: 100, maxMs: 1_000 },
      });
      const recorder: Recorder = { userIndex, client, received: [], gaps: [], states: [] };
      client.on('RD', (event) => recorder.received.push((event.content as { n: number }).n));
      client.onGap((gap) => recorder.gaps.push(gap));
      client.onState((state) => recorder.states.push(state));
      client.onError((error) => console.log(`[rolling] client ${i}: ${error.name}: ${error.message}`));
      recorders.push(recorder);
    }
    for (const r of recorders) r.client.connect();
    await waitFor(() => recorders.every((r) => r.client.state.status === 'open'), 'every client open', 20_000);
    console.log(`[rolling] ${elapsed()} ${recorders.length} clients open`);

    publisher = await connectNatsPublisher({
      servers: [nats.url],
      subject: env.HERALD_NATS_SUBJECT,
      stream: env.HERALD_NATS_STREAM,
      log: createLogger('silent'),
    });
    // Per user: the counters of the events published (answered) in publish order.
    const expected: number[][] = Array.from({ length: USERS }, () => []);
    const nextN = new Array<number>(USERS).fill(0);
    let sent = 0;
    let published = 0;
    let failed = 0;
    const emits: Promise<void>[] = [];
    const publishStart = Date.now();
    const deploy = (async () => {
      await sleep(STEPS_MS.stopA);
      const stoppedA = drain(a, 'A');
      await sleep(Math.max(0, publishStart + STEPS_MS.startC - Date.now()));
      await startLive('C');
      await sleep(Math.max(0, publishStart + STEPS_MS.stopB - Date.now()));
      const stoppedB = drain(b, 'B');
      await sleep(Math.max(0, publishStart + STEPS_MS.startD - Date.now()));
      await startLive('D');
      return Promise.all([stoppedA, stoppedB]);
    })();

    // Every tick sends what is due at the rate, as one batch (one request) of single-user events.
    while (Date.now() - publishStart < PUBLISH_MS) {
      const due = Math.min(1000, Math.floor(((Date.now() - publishStart) * EVENTS_PER_S) / 1000) - sent);
      if (due > 0) {
        sent += due;
        const batch = Array.from({ length: due }, () => {
          const u = Math.floor(Math.random() * USERS);
          const n = ++nextN[u]!;
          expected[u]!.push(n);
          return { u, n };
        });
        emits.push(
          publisher.emit(batch.map(({ u, n }) => ({ type: 'RD', content: { u, n }, targetUsers: [`rd-u${u}`] }))).then(
            () => {
              published += batch.length;
            },
            (error: unknown) => {
              // All or nothing: none of them was published, so none is expected.
              failed += batch.length;
              for (const { u, n } of batch) expected[u]!.splice(expected[u]!.indexOf(n), 1);
              console.log(`[rolling] a publish of ${batch.length} events failed: ${(error as Error).message}`);
            },
          ),
        );
      }
      await sleep(TICK_MS);
    }
    await Promise.all(emits);
    const publishS = (Date.now() - publishStart) / 1000;
    console.log(`[rolling] ${elapsed()} published ${published} events in ${publishS.toFixed(1)} s (${failed} failed)`);
    const exits = await deploy;

    // Every client has everything its user was sent, or the wait ends and the counts say what is missing.
    const caughtUp = (r: Recorder) => {
      const want = expected[r.userIndex]!;
      return want.length === 0 || r.received.includes(want[want.length - 1]!);
    };
    await waitFor(() => recorders.every(caughtUp), 'every client to get its last event', 15_000).catch((error: Error) =>
      console.log(`[rolling] ${error.message}`),
    );

    let deliveries = 0;
    let lost = 0;
    let duplicated = 0;
    let reordered = 0;
    let gaps = 0;
    let reconnects = 0;
    let replayed = 0;
    for (const r of recorders) {
      const want = expected[r.userIndex]!;
      deliveries += want.length;
      const got = new Set(r.received);
      lost += want.filter((n) => !got.has(n)).length;
      duplicated += r.received.length - got.size;
      // Out of order: a first delivery of an event published before the one delivered just before it.
      const firsts = r.received.filter((n, i) => r.received.indexOf(n) === i);
      const rank = new Map(want.map((n, i) => [n, i]));
      for (let i = 1; i < firsts.length; i++) if ((rank.get(firsts[i]!) ?? -1) < (rank.get(firsts[i - 1]!) ?? -1)) reordered++;
      gaps += r.gaps.length;
      const opens = r.states.filter((s) => s.status === 'open');
      reconnects += opens.length - 1;
      for (const open of opens) replayed += open.replayed ?? 0;
    }
    const tookS = (Date.now() - startedAt) / 1000;
    console.log(
      `[rolling] ${recorders.length} clients, ${published} events (${deliveries} deliveries expected): ` +
        `lost ${lost}, duplicated ${duplicated}, reordered ${reordered}; gaps ${gaps}, reconnects ${reconnects}, ` +
        `replayed ${replayed}; took ${tookS.toFixed(1)} s`,
    );
    expect({ lost, duplicated, reordered, gaps, failed }).toEqual({ lost: 0, duplicated: 0, reordered: 0, gaps: 0, failed: 0 });
    expect(exits).toEqual([
      { code: 0, signal: null },
      { code: 0, signal: null },
    ]);
    // Every client left its draining pod and resumed elsewhere: some twice.
    expect(reconnects).toBeGreaterThanOrEqual(recorders.length);
  });
});

async function waitFor(check: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}
