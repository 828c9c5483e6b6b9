import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClient, publish, refusedUpgrade, settle } from './harness/client.js';
import { killAllPods, startPod, type EngineName, type Pod } from './harness/pod.js';
import { mintToken } from './harness/tokens.js';

let counter = 0;
/** A fresh user and session id per call, so tests never see each other's sockets. */
export function ids(prefix = 'u') {
  const n = `${Date.now().toString(36)}${(++counter).toString(36)}`;
  return { userId: `${prefix}-${n}`, sessionId: `s-${prefix}-${n}` };
}

export async function connect(pod: Pod, who = ids()) {
  const token = await mintToken({ sub: who.userId, sid: who.sessionId });
  const client = await TestClient.connect(pod.ws, token);
  return { client, ...who };
}

/** The single-pod contract (§1, §2 HTTP, §5) against one engine. */
export function runCoreCases(engine: EngineName): void {
  describe(`core gateway on ${engine}`, () => {
    let pod: Pod;
    beforeAll(async () => {
      pod = await startPod({ engine });
    });
    afterAll(killAllPods);

    it('welcomes a socket with its user, session and heartbeat once its subscriptions are live', async () => {
      const who = ids();
      const { client } = await connect(pod, who);
      expect(client.frames[0]).toEqual({
        type: 'herald.welcome',
        userId: who.userId,
        sessionId: who.sessionId,
        heartbeatMs: expect.any(Number),
      });
      await client.close();
    });

    it('delivers an event to every socket of the target users and to nobody else', async () => {
      const a = await connect(pod);
      const a2 = await connect(pod, { userId: a.userId, sessionId: `${a.sessionId}-2` });
      const b = await connect(pod);
      const bystander = await connect(pod);
      const result = await publish(pod.http, {
        type: 'ITEM_CREATED',
        content: { item: { id: 7 } },
        targetUsers: [a.userId, b.userId],
        fromUserId: 'backend',
      });
      expect(result.status).toBe(202);
      expect(result.body.ids).toHaveLength(1);
      for (const c of [a, a2, b]) {
        const frame = await c.client.event('ITEM_CREATED');
        expect(frame).toEqual({
          type: 'ITEM_CREATED',
          id: result.body.ids[0],
          content: { item: { id: 7 } },
          fromUserId: 'backend',
          ts: expect.any(Number),
        });
      }
      await settle(pod.http, [bystander]);
      expect(bystander.client.events.map((e) => e.type)).not.toContain('ITEM_CREATED');
      await Promise.all([a, a2, b, bystander].map((c) => c.client.close()));
    });

    it('refuses a socket without a token with 401 and a JSON body', async () => {
      const refused = await refusedUpgrade(pod.ws, undefined);
      expect(refused.status).toBe(401);
      expect(refused.body.error).toBe('missing_token');
    });
  });
}
