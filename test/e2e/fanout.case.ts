import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publish, settle } from './harness/client.js';
import { connect, ids, type Connected } from './harness/identities.js';
import { killAllPods, startPod, type EngineName, type Pod } from './harness/pod.js';

const SOCKETS = 200;
const EVENTS = 500;

/**
 * Fan-out at volume on one engine. The uWebSockets.js engine runs fan-out that arrives inside one
 * of its own callbacks (an HTTP publish) later in the same loop turn (the cork trap): this proves
 * that path loses nothing, keeps request order and still skips the origin session.
 */
export function runFanoutCases(engine: EngineName): void {
  describe(`fan-out at volume on ${engine}`, () => {
    let pod: Pod;
    beforeAll(async () => {
      pod = await startPod({ engine, env: { HERALD_MAX_SOCKETS_PER_USER: String(SOCKETS) } });
    });
    afterAll(killAllPods);

    it(`delivers a ${EVENTS}-event request to ${SOCKETS} sockets of one user, each in request order, and skips the origin`, async () => {
      const user = ids('fan');
      const sockets: Connected[] = [];
      for (let i = 0; i < SOCKETS; i++) sockets.push(await connect(pod, { userId: user.userId, sessionId: `${user.sessionId}-${i}` }));
      const [origin, ...others] = sockets as [Connected, ...Connected[]];
      const events = Array.from({ length: EVENTS }, (_, n) => ({
        type: 'BULK',
        content: { n },
        targetUsers: [user.userId],
        fromUserId: user.userId,
        fromSessionId: origin.sessionId,
      }));
      const result = await publish(pod.http, events);
      expect(result.status).toBe(202);
      const sent: string[] = result.body.ids;
      await Promise.all(others.map(({ client }) => client.next((f) => f.id === sent.at(-1), 30_000)));
      for (const { client } of others) {
        expect(client.events.filter((f) => f.type === 'BULK').map((f) => f.id)).toEqual(sent);
      }
      await settle(pod.http, [origin]);
      expect(origin.client.events.filter((f) => f.type === 'BULK')).toEqual([]);
      await Promise.all(sockets.map(({ client }) => client.close()));
    }, 90_000);
  });
}
