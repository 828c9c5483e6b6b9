import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HeraldPublisher } from '../../src/publisher/publisher.js';
import { BusUnavailableError } from '../../src/errors.js';
import { InvalidEventError } from '../../src/protocol/validation-error.js';
import { TestClient, post, publish, refusedUpgrade, settle, type Closed } from './harness/client.js';
import { connect, ids, type Connected } from './harness/identities.js';
import { killAllPods, startPod, type EngineName, type Pod } from './harness/pod.js';
import { mintToken } from './harness/tokens.js';

/** A broker started for one suite. Pods get `env` (HERALD_BUS and its URLs). */
export interface Broker {
  env: Record<string, string>;
  /** A crash: resolves once the broker is gone. */
  down(): Promise<void>;
  /** Back on the same address (and storage); resolves once it accepts clients. */
  up(): Promise<void>;
  stop(): Promise<void>;
}

/** A broker of several nodes, where one node can be killed under a pod. */
export interface FailoverBroker {
  env: Record<string, string>;
  /** Kills the node `pod` is connected to; resolves once it is dead. */
  killNodeOf(pod: Pod): Promise<void>;
  /** Resolves once `pod` says it is connected again (to another node). */
  reconnected(pod: Pod): Promise<void>;
  stop(): Promise<void>;
}

export interface ClusterSuiteOptions {
  bus: 'nats' | 'amqp';
  engine: EngineName;
  startBroker(): Promise<Broker>;
  /** A publisher-only client on `broker` (herald/publisher), as a backend service would make it. */
  connectPublisher(broker: Broker): Promise<HeraldPublisher>;
  /** Only for buses that run as a cluster of brokers. */
  startFailoverBroker?(): Promise<FailoverBroker>;
}

const nowS = () => Math.floor(Date.now() / 1000);

async function readyz(pod: Pod): Promise<number> {
  return (await fetch(`${pod.http}/readyz`)).status;
}

async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Retries the publish until a pod accepts it: right after a reconnect, bus-up may lag by a moment. */
async function publishWhenReady(pod: Pod, event: unknown): Promise<void> {
  await waitFor(`${pod.http} to accept a publish`, async () => (await publish(pod.http, event)).status === 202);
}

function stillOpen(c: Connected): boolean {
  return c.client.ws.readyState === c.client.ws.OPEN;
}

/**
 * The multi-pod contract (§1–§3) for one bus and one engine: several gateway processes on
 * one broker, clients on different pods. Each suite starts its own broker and pods.
 */
export function runClusterCases(options: ClusterSuiteOptions): void {
  const { bus, engine } = options;
  // NATS keeps the event log (§6): frames carry their seq. AMQP keeps none: no seq.
  const logPosition = bus === 'nats' ? { seq: expect.any(Number) } : {};

  describe(`cluster over ${bus} on ${engine}`, () => {
    let broker: Broker;
    let pod1: Pod;
    let pod2: Pod;
    let publisher: HeraldPublisher;
    const startClusterPod = () => startPod({ engine, env: broker.env });

    beforeAll(async () => {
      broker = await options.startBroker();
      [pod1, pod2] = await Promise.all([startClusterPod(), startClusterPod()]);
      publisher = await options.connectPublisher(broker);
    });
    afterAll(async () => {
      await publisher?.close();
      await killAllPods();
      await broker?.stop();
    });

    describe('delivery across pods', () => {
      it('an event published on one pod reaches the target users on every pod, and nobody else', async () => {
        const a = await connect(pod1);
        const b = await connect(pod2);
        const b2 = await connect(pod1, { userId: b.userId, sessionId: `${b.sessionId}-2` });
        const bystander1 = await connect(pod1);
        const bystander2 = await connect(pod2);
        const result = await publish(pod1.http, {
          type: 'ITEM_CREATED',
          content: { item: { id: 7 } },
          targetUsers: [a.userId, b.userId],
          fromUserId: 'backend',
        });
        expect(result.status).toBe(202);
        for (const c of [a, b, b2]) {
          expect(await c.client.event('ITEM_CREATED')).toEqual({
            type: 'ITEM_CREATED',
            id: result.body.ids[0],
            content: { item: { id: 7 } },
            fromUserId: 'backend',
            ts: expect.any(Number),
            ...logPosition,
          });
        }
        await settle(pod1.http, [bystander1, bystander2]);
        expect(bystander1.client.events.map((e) => e.type)).not.toContain('ITEM_CREATED');
        expect(bystander2.client.events.map((e) => e.type)).not.toContain('ITEM_CREATED');
        // Each socket got the event once: pods do not forward what they receive.
        expect(b.client.events.filter((e) => e.type === 'ITEM_CREATED')).toHaveLength(1);
        await Promise.all([a, b, b2, bystander1, bystander2].map((c) => c.client.close()));
      });

      it('events of one request reach a socket on another pod in request order', async () => {
        const a = await connect(pod2);
        const batch = Array.from({ length: 50 }, (_, n) => ({ type: 'SEQ', content: { n }, targetUsers: [a.userId] }));
        expect((await publish(pod1.http, batch)).status).toBe(202);
        await a.client.next((f) => f.type === 'SEQ' && (f.content as { n: number }).n === 49);
        expect(a.client.events.map((e) => (e.content as { n: number }).n)).toEqual(batch.map((e) => e.content.n));
        await a.client.close();
      });

      it('inclusive: false skips only the origin session, on whichever pod it is; inclusive: true reaches it', async () => {
        const user = ids();
        const origin = await connect(pod1, user);
        const other = await connect(pod2, { userId: user.userId, sessionId: `${user.sessionId}-other` });
        const base = { content: null, targetUsers: [user.userId], fromUserId: user.userId, fromSessionId: origin.sessionId };
        // Published on the pod that does not hold the origin session, so the skip must travel.
        expect((await publish(pod2.http, { ...base, type: 'EXCLUSIVE' })).status).toBe(202);
        expect((await publish(pod2.http, { ...base, type: 'INCLUSIVE', inclusive: true })).status).toBe(202);
        await other.client.event('EXCLUSIVE');
        await other.client.event('INCLUSIVE');
        await origin.client.event('INCLUSIVE');
        await settle(pod2.http, [origin]);
        expect(origin.client.events.map((e) => e.type)).not.toContain('EXCLUSIVE');
        await Promise.all([origin, other].map((c) => c.client.close()));
      });
    });

    describe('sessions and disconnects across pods', () => {
      it('a socket replaced by the same session on another pod closes with 4009; the new one keeps receiving', async () => {
        const who = ids();
        const first = await connect(pod1, who);
        const second = await connect(pod2, who);
        expect((await first.client.closedWithin()).code).toBe(4009);
        await publishWhenReady(pod1, { type: 'AFTER_REPLACE', content: null, targetUsers: [who.userId] });
        await second.client.event('AFTER_REPLACE');
        expect(stillOpen(second)).toBe(true);
        await second.client.close();
      });

      it('a user disconnect on one pod closes the user sockets on every pod with 4003 and revokes the old tokens everywhere', async () => {
        const user = ids();
        const oldToken = await mintToken({ sub: user.userId, sid: user.sessionId });
        const onPod1 = { ...user, client: await TestClient.connect(pod1.ws, oldToken) };
        const onPod2 = await connect(pod2, { userId: user.userId, sessionId: `${user.sessionId}-2` });
        const bystander = await connect(pod2);
        const result = await post(pod1.http, `/v1/users/${encodeURIComponent(user.userId)}/disconnect`);
        expect(result.status).toBe(202);
        const closes: Closed[] = await Promise.all([onPod1.client.closedWithin(), onPod2.client.closedWithin()]);
        expect(closes.map((c) => c.code)).toEqual([4003, 4003]);
        for (const pod of [pod1, pod2]) {
          const refused = await refusedUpgrade(pod.ws, oldToken);
          expect(refused.status).toBe(401);
          expect(refused.body.error).toBe('token_revoked');
        }
        // A token issued after the revocation opens a socket again: the user can log back in.
        const fresh = await TestClient.connect(pod2.ws, await mintToken({ sub: user.userId, sid: 'again', iat: nowS() + 1 }));
        expect(stillOpen(bystander)).toBe(true);
        await Promise.all([fresh.close(), bystander.client.close()]);
      });

      it('a session disconnect on one pod closes that session on another pod with 1000 and nothing else', async () => {
        const user = ids();
        const target = await connect(pod2, user);
        const sibling = await connect(pod1, { userId: user.userId, sessionId: `${user.sessionId}-sibling` });
        const result = await post(pod1.http, `/v1/sessions/${encodeURIComponent(user.sessionId)}/disconnect`);
        expect(result.status).toBe(202);
        expect((await target.client.closedWithin()).code).toBe(1000);
        await publishWhenReady(pod1, { type: 'SIBLING_ALIVE', content: null, targetUsers: [user.userId] });
        await sibling.client.event('SIBLING_ALIVE');
        await sibling.client.close();
      });

      it('a pod started after a user disconnect refuses the tokens it revoked', async () => {
        const user = ids();
        const oldToken = await mintToken({ sub: user.userId, sid: user.sessionId, iat: nowS() - 5 });
        expect((await post(pod1.http, `/v1/users/${encodeURIComponent(user.userId)}/disconnect`)).status).toBe(202);
        const late = await startClusterPod();
        await waitFor('the late pod to be ready', async () => (await readyz(late)) === 200);
        const refused = await refusedUpgrade(late.ws, oldToken);
        expect(refused.status).toBe(401);
        expect(refused.body.error).toBe('token_revoked');
        const fresh = await TestClient.connect(late.ws, await mintToken({ sub: user.userId, sid: 'later', iat: nowS() + 1 }));
        await fresh.close();
        await late.stop();
      });
    });

    describe('the publisher client (herald/publisher)', () => {
      it('rejects an invalid batch with the same details as the HTTP API and publishes nothing', async () => {
        const watcher = await connect(pod2);
        const body = [
          { type: 'FINE', content: 1, targetUsers: [watcher.userId] },
          { type: 'herald.reserved', content: 2, targetUsers: [] },
        ];
        const http = await publish(pod1.http, body);
        expect(http.status).toBe(400);
        const error = await publisher.emit(body as never).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(InvalidEventError);
        expect((error as InvalidEventError).details).toEqual(http.body.details);
        await settle(pod1.http, [watcher]);
        expect(watcher.client.events.map((e) => e.type)).not.toContain('FINE');
        await watcher.client.close();
      });

      it('delivers events to sockets on every pod, and disconnects users and sessions', async () => {
        const a = await connect(pod1);
        const b = await connect(pod2);
        const [id] = await publisher.emit({ type: 'FROM_SERVICE', content: { ok: true }, targetUsers: [a.userId, b.userId] });
        for (const c of [a, b]) {
          expect(await c.client.event('FROM_SERVICE')).toEqual({
            type: 'FROM_SERVICE',
            id,
            content: { ok: true },
            fromUserId: null,
            ts: expect.any(Number),
            ...logPosition,
          });
        }
        await publisher.disconnectSession(a.sessionId);
        expect((await a.client.closedWithin()).code).toBe(1000);
        const oldToken = await mintToken({ sub: b.userId, sid: b.sessionId, iat: nowS() - 5 });
        await publisher.disconnectUser(b.userId);
        expect((await b.client.closedWithin()).code).toBe(4003);
        const refused = await refusedUpgrade(pod1.ws, oldToken);
        expect(refused.body.error).toBe('token_revoked');
      });
    });

    describe('broker outage', () => {
      it('while the broker is down pods are not ready, publishes answer 503, sockets stay open; delivery resumes after', async () => {
        const a = await connect(pod1);
        const b = await connect(pod2);
        await broker.down();
        for (const pod of [pod1, pod2]) await waitFor(`${pod.http} /readyz 503`, async () => (await readyz(pod)) === 503);
        const refused = await publish(pod1.http, { type: 'DURING_OUTAGE', content: null, targetUsers: [b.userId] });
        expect(refused.status).toBe(503);
        expect(refused.body.error).toBe('bus_unavailable');
        await waitFor('the publisher to notice', () => !publisher.up);
        await expect(publisher.emit({ type: 'DURING_OUTAGE', content: null, targetUsers: [b.userId] })).rejects.toBeInstanceOf(
          BusUnavailableError,
        );
        expect((await refusedUpgrade(pod2.ws, await mintToken({ sub: 'x', sid: 'y' }))).status).toBe(503);
        expect([stillOpen(a), stillOpen(b)]).toEqual([true, true]);

        await broker.up();
        for (const pod of [pod1, pod2]) await waitFor(`${pod.http} /readyz 200`, async () => (await readyz(pod)) === 200, 30_000);
        expect([stillOpen(a), stillOpen(b)]).toEqual([true, true]);
        const after = await publish(pod1.http, { type: 'AFTER_OUTAGE', content: null, targetUsers: [a.userId, b.userId] });
        expect(after.status).toBe(202);
        await a.client.event('AFTER_OUTAGE');
        await b.client.event('AFTER_OUTAGE');
        await waitFor('the publisher to reconnect', () => publisher.up, 30_000);
        await publisher.emit({ type: 'PUBLISHER_AFTER_OUTAGE', content: null, targetUsers: [b.userId] });
        await b.client.event('PUBLISHER_AFTER_OUTAGE');
        expect(b.client.events.map((e) => e.type)).not.toContain('DURING_OUTAGE');
        await Promise.all([a.client.close(), b.client.close()]);
      }, 90_000);
    });
  });

  const startFailoverBroker = options.startFailoverBroker;
  if (startFailoverBroker) {
    describe(`cluster over a multi-node ${bus} broker on ${engine}`, () => {
      let broker: FailoverBroker;
      let podA: Pod;
      let podB: Pod;
      beforeAll(async () => {
        broker = await startFailoverBroker();
        [podA, podB] = await Promise.all([
          startPod({ engine, env: broker.env }),
          startPod({ engine, env: broker.env }),
        ]);
      });
      afterAll(async () => {
        await killAllPods();
        await broker?.stop();
      });

      it('when the node a pod is connected to dies, the pod reconnects to another node and delivery resumes both ways', async () => {
        // A fresh 3-node cluster may still be placing the revocation bucket: pods are ready once it is.
        for (const pod of [podA, podB]) await waitFor('the pod ready', async () => (await readyz(pod)) === 200, 30_000);
        const a = await connect(podA);
        const b = await connect(podB);
        expect((await publish(podB.http, { type: 'BEFORE_KILL', content: null, targetUsers: [a.userId] })).status).toBe(202);
        // On a fresh 3-node cluster the event log's replicas may still be electing a leader.
        await a.client.event('BEFORE_KILL', 15_000);

        await broker.killNodeOf(podA);
        await broker.reconnected(podA);
        await waitFor('pod A ready again', async () => (await readyz(podA)) === 200, 30_000);
        expect([stillOpen(a), stillOpen(b)]).toEqual([true, true]);
        // Interest moves between nodes with the reconnect; only events in flight during the fail-over
        // may be lost (none with recovery on: they are stored, and the socket resumes). The event
        // log's reader notices its lost consumer by missed heartbeats (~5 s) and starts over.
        await waitFor(
          'delivery from pod B to pod A',
          async () => {
            const type = `TO_A_${Date.now()}`;
            if ((await publish(podB.http, { type, content: null, targetUsers: [a.userId] })).status !== 202) return false;
            return a.client.event(type, 1_000).then(() => true, () => false);
          },
          30_000,
        );
        await publishWhenReady(podA, { type: 'FROM_A', content: null, targetUsers: [b.userId] });
        // Pod B kept its connection, but the log's consumer may have lived on the dead node: its
        // reader notices by missed heartbeats (~5 s) and starts over after the last message read.
        await b.client.event('FROM_A', 20_000);
        await Promise.all([a.client.close(), b.client.close()]);
      }, 90_000);
    });
  }
}
