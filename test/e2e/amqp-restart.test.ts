import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { post, publish, settle } from './harness/client.js';
import { connect, type Connected } from './harness/identities.js';
import { killAllPods, metricValue, startPod, type Pod } from './harness/pod.js';
import { deleteTopology, startAmqpRelay, uniqueExchange } from './harness/rabbitmq.js';
import type { TcpProxy } from './harness/tcp-proxy.js';

async function readyz(pod: Pod): Promise<number> {
  return (await fetch(`${pod.http}/readyz`)).status;
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** The queue names a pod said it consumed from, in order: one per (re)connection. */
function queuesOf(pod: Pod): string[] {
  return pod.logs.filter((l) => l.msg === 'connected to RabbitMQ').map((l) => String(l.queue));
}

/** The socket is open and served: a herald.ping is answered. */
async function answersPing(c: Connected): Promise<boolean> {
  const seen = c.client.frames.filter((f) => f.type === 'herald.pong').length;
  c.client.send({ type: 'herald.ping' });
  await c.client.next((f) => f.type === 'herald.pong' && c.client.frames.filter((p) => p.type === 'herald.pong').length > seen);
  return c.client.ws.readyState === c.client.ws.OPEN;
}

describe('HERALD_BUS=amqp across a broker outage (the relay in front of RabbitMQ cut, then restored)', () => {
  const exchange = uniqueExchange('restart');
  let relay: TcpProxy;
  let pod1: Pod;
  let pod2: Pod;

  beforeAll(async () => {
    const relayed = await startAmqpRelay();
    relay = relayed.relay;
    const env = { HERALD_BUS: 'amqp', HERALD_AMQP_URL: relayed.url, HERALD_AMQP_EXCHANGE: exchange };
    [pod1, pod2] = await Promise.all([startPod({ env }), startPod({ env })]);
  }, 60_000);

  afterAll(async () => {
    await killAllPods();
    await relay?.close();
    await deleteTopology(exchange);
  }, 60_000);

  it('pods are not ready and refuse publishes while RabbitMQ is down, keep their sockets, and deliver again on new queues after', async () => {
    const a = await connect(pod1);
    const b = await connect(pod2);
    const before = await publish(pod1.http, { type: 'BEFORE', content: null, targetUsers: [a.userId, b.userId] });
    expect(before.status).toBe(202);
    await Promise.all([a.client.event('BEFORE'), b.client.event('BEFORE')]);
    const queuesBefore = [queuesOf(pod1), queuesOf(pod2)];
    expect(queuesBefore.map((q) => q.length)).toEqual([1, 1]);

    try {
      await relay.cut();
      for (const pod of [pod1, pod2]) await waitFor(`${pod.http} /readyz 503`, async () => (await readyz(pod)) === 503, 15_000);
      expect(await metricValue(pod1, 'herald_bus_up')).toBe(0);

      const refused = await publish(pod2.http, { type: 'DURING', content: null, targetUsers: [a.userId, b.userId] });
      expect(refused.status).toBe(503);
      expect(refused.body.error).toBe('bus_unavailable');
      expect((await post(pod1.http, `/v1/sessions/${encodeURIComponent(b.sessionId)}/disconnect`)).status).toBe(503);

      // The sockets stay open and their pods still answer them.
      expect(await answersPing(a)).toBe(true);
      expect(await answersPing(b)).toBe(true);

    } finally {
      await relay.restore();
    }

    for (const pod of [pod1, pod2]) await waitFor(`${pod.http} /readyz 200`, async () => (await readyz(pod)) === 200, 30_000);
    expect(await metricValue(pod2, 'herald_bus_up')).toBe(1);
    // Each pod declared a new server-named queue (the old ones died with their connections).
    for (const [index, pod] of [pod1, pod2].entries()) {
      const queues = queuesOf(pod);
      expect(queues).toHaveLength(2);
      expect(queues[1]).not.toBe(queuesBefore[index]![0]);
    }

    const after = await publish(pod2.http, { type: 'AFTER', content: { n: 1 }, targetUsers: [a.userId, b.userId] });
    expect(after.status).toBe(202);
    await Promise.all([a.client.event('AFTER'), b.client.event('AFTER')]);
    await settle(pod1.http, [a, b]);
    // Refused publishes were never sent; nothing was closed by the outage.
    expect(a.client.events.map((e) => e.type)).not.toContain('DURING');
    expect(b.client.events.map((e) => e.type)).not.toContain('DURING');
    expect([a.client.ws.readyState, b.client.ws.readyState]).toEqual([a.client.ws.OPEN, b.client.ws.OPEN]);
    await Promise.all([a.client.close(), b.client.close()]);
  }, 120_000);
});
