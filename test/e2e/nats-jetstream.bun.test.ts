import { afterAll, describe, expect, it } from 'vitest';
import { refusedUpgrade } from './harness/client.js';
import { startNatsServer, stopAllNatsServers } from './harness/nats-server.js';
import { killAllPods, startPod } from './harness/pod.js';
import { mintToken } from './harness/tokens.js';

describe('a pod on NATS without JetStream', () => {
  afterAll(async () => {
    await killAllPods();
    await stopAllNatsServers();
  });

  it('listens but stays not ready and refuses sockets, saying why: it cannot know past revocations', async () => {
    const server = await startNatsServer({ jetstream: false });
    const pod = await startPod({ env: { HERALD_BUS: 'nats', HERALD_NATS_URL: server.url } });
    expect((await fetch(`${pod.http}/healthz`)).status).toBe(200);
    expect((await fetch(`${pod.http}/readyz`)).status).toBe(503);
    const refused = await refusedUpgrade(pod.ws, await mintToken({ sub: 'u1', sid: 's1' }));
    expect(refused.status).toBe(503);
    expect(refused.body.error).toBe('not_ready');
    expect(pod.logs.some((l) => String(l.msg).startsWith('cannot load revocations from JetStream'))).toBe(true);
  }, 30_000);
});
