import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { publish, refusedUpgrade } from './harness/client.js';
import { connect, expectStillReceives, type Connected } from './harness/identities.js';
import { killAllPods, metricValue, startPod, type EngineName, type Pod } from './harness/pod.js';
import { mintToken } from './harness/tokens.js';

/** A broker of the test's own that it can freeze, and that can be missing when a pod starts. */
export interface OutageBroker {
  /** HERALD_BUS and the broker URL pods get. */
  env: Record<string, string>;
  /** The broker stops answering without closing a connection (SIGSTOP, or a relay that stops forwarding). */
  freeze(): Promise<void>;
  thaw(): Promise<void>;
  stop(): Promise<void>;
}

export interface OutageSuiteOptions {
  bus: 'nats' | 'amqp';
  engine: EngineName;
  /** A running broker. */
  startBroker(): Promise<OutageBroker>;
  /** The env of a broker that is not there yet, and how to bring it. */
  absentBroker(): Promise<{ env: Record<string, string>; appear(): Promise<OutageBroker> }>;
}

async function status(url: string): Promise<number> {
  return (await fetch(url)).status;
}

async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** The socket is open and its pod serves it: a herald.ping is answered. */
async function answersPing(c: Connected): Promise<void> {
  const pongs = () => c.client.frames.filter((f) => f.type === 'herald.pong').length;
  const before = pongs();
  c.client.send({ type: 'herald.ping' });
  await waitFor('a herald.pong', () => pongs() > before, 5_000);
  expect(c.client.ws.readyState).toBe(c.client.ws.OPEN);
}

/** Everything a pod refuses while its bus is down, and what it still serves. */
async function expectNotReady(pod: Pod): Promise<void> {
  expect(await status(`${pod.http}/healthz`)).toBe(200);
  expect(await status(`${pod.http}/readyz`)).toBe(503);
  expect(await metricValue(pod, 'herald_bus_up')).toBe(0);
  const refused = await publish(pod.http, { type: 'REFUSED', content: null, targetUsers: ['nobody'] });
  expect(refused).toMatchObject({ status: 503, body: { error: 'bus_unavailable' } });
  const upgrade = await refusedUpgrade(pod.ws, await mintToken({ sub: 'late-user', sid: 'late-session' }));
  expect(upgrade).toMatchObject({ status: 503, body: { error: 'not_ready' } });
}

/**
 * Contract §3 for one broker bus and engine, against a broker of the test's own: a broker that
 * stops answering counts as down within 10 s, and a pod whose broker is away at start does not
 * exit but starts not ready and keeps trying.
 */
export function runBrokerOutageCases(options: OutageSuiteOptions): void {
  const { bus, engine } = options;

  describe(`broker outages over ${bus} on ${engine}`, () => {
    let broker: OutageBroker | undefined;
    afterEach(async () => {
      await killAllPods();
      await broker?.stop();
      broker = undefined;
    });
    afterAll(killAllPods);

    it('a broker that stops answering without closing the connection counts as down within 10 s; sockets stay open and delivery resumes after', async () => {
      broker = await options.startBroker();
      const env = broker.env;
      const [pod1, pod2] = await Promise.all([startPod({ engine, env }), startPod({ engine, env })]);
      const a = await connect(pod1);
      const b = await connect(pod2);
      expect((await publish(pod1.http, { type: 'BEFORE', content: null, targetUsers: [a.userId, b.userId] })).status).toBe(202);
      await Promise.all([a.client.event('BEFORE'), b.client.event('BEFORE')]);

      await broker.freeze();
      const frozenAt = Date.now();
      try {
        for (const pod of [pod1, pod2]) await waitFor(`${pod.http} /readyz 503`, async () => (await status(`${pod.http}/readyz`)) === 503, 10_000);
        const noticedMs = Date.now() - frozenAt;
        expect(noticedMs).toBeLessThan(10_000);
        for (const pod of [pod1, pod2]) await expectNotReady(pod);
        // The pods still serve their sockets; the outage closes none of them.
        await answersPing(a);
        await answersPing(b);
        // The broker stays frozen for 10 s, as in the report.
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, 10_000 - (Date.now() - frozenAt))));
        for (const pod of [pod1, pod2]) expect(await status(`${pod.http}/readyz`)).toBe(503);
      } finally {
        await broker.thaw();
      }

      for (const pod of [pod1, pod2]) await waitFor(`${pod.http} /readyz 200`, async () => (await status(`${pod.http}/readyz`)) === 200, 30_000);
      expect(await metricValue(pod1, 'herald_bus_up')).toBe(1);
      expect([a.client.ws.readyState, b.client.ws.readyState]).toEqual([a.client.ws.OPEN, b.client.ws.OPEN]);
      const after = await publish(pod2.http, { type: 'AFTER', content: null, targetUsers: [a.userId, b.userId] });
      expect(after.status).toBe(202);
      await Promise.all([a.client.event('AFTER'), b.client.event('AFTER')]);
      expect(a.client.events.map((e) => e.type)).not.toContain('REFUSED');
      // Other sockets, new since the outage, receive too.
      await expectStillReceives(pod1, await connect(pod1));
      await expectStillReceives(pod2, await connect(pod2));
    }, 90_000);

    it('a pod whose broker is unreachable at start does not exit: it listens not ready, keeps trying, and is ready once the broker appears', async () => {
      const absent = await options.absentBroker();
      const pod = await startPod({ engine, env: absent.env });
      await expectNotReady(pod);
      await waitFor('two failed attempts in the log', () => failures(pod).length >= 2, 15_000);
      for (const line of failures(pod)) {
        expect(line.reason).toBe('unavailable');
        expect(String(line.msg)).toMatch(/unreachable.*; not ready, retrying$/);
      }
      expect(pod.process.exitCode).toBeNull();

      broker = await absent.appear();
      await waitFor(`${pod.http} /readyz 200`, async () => (await status(`${pod.http}/readyz`)) === 200, 30_000);
      expect(await metricValue(pod, 'herald_bus_up')).toBe(1);
      const a = await connect(pod);
      const b = await connect(pod);
      const sent = await publish(pod.http, { type: 'FIRST', content: { n: 1 }, targetUsers: [a.userId] });
      expect(sent.status).toBe(202);
      await a.client.event('FIRST');
      await expectStillReceives(pod, b);
    }, 90_000);
  });
}

/** The pod's log lines for failed broker attempts. */
export function failures(pod: Pod): Record<string, unknown>[] {
  return pod.logs.filter((l) => typeof l.msg === 'string' && l.msg.endsWith('; not ready, retrying'));
}
