import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClient, post, publish, refusedUpgrade } from './harness/client.js';
import { killAllPods, startPod, type Pod } from './harness/pod.js';
import { mintToken } from './harness/tokens.js';

const APP = fileURLToPath(new URL('./embedded/app.ts', import.meta.url));

/** Gateway.mount(): Herald inside the app's own Bun.serve, one port for the app and its sockets. */
describe('a gateway mounted in an app\'s Bun.serve', () => {
  let app: Pod;
  beforeAll(async () => {
    app = await startPod({ script: APP, readyMessage: 'app listening', env: { HERALD_DRAIN_TIMEOUT_MS: '3000' } });
  });
  afterAll(killAllPods);

  it('hands every path that is not the gateway\'s to the app', async () => {
    const hello = await fetch(`${app.http}/app/hello`);
    expect(hello.status).toBe(200);
    expect(await hello.json()).toEqual({ hello: 'from the app' });
    const missing = await fetch(`${app.http}/nothing-here`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ message: 'the app has no /nothing-here' });
  });

  it('answers its probes, the publisher API and a plain GET of the socket path itself', async () => {
    expect((await fetch(`${app.http}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${app.http}/readyz`)).json()).toEqual({ status: 'ready' });
    expect(await (await fetch(`${app.http}/metrics`)).text()).toContain('herald_connections');
    expect((await fetch(`${app.http}/ws`)).status).toBe(426);
    expect((await post(app.http, '/v1/events', { type: 'X', content: 1, targetUsers: ['u'] }, { token: null })).status).toBe(401);
  });

  it('opens sockets on the app\'s port and delivers what the app emits in process and what /v1/events publishes', async () => {
    const user = { sub: `embedded-${Date.now()}`, sid: 's1' };
    const client = await TestClient.connect(app.ws, await mintToken(user));
    const emitted = await post(app.http, '/app/emit', { type: 'ITEM_CREATED', content: { id: 1 }, targetUsers: [user.sub] }, { token: null });
    expect(emitted.status).toBe(202);
    expect(await client.event('ITEM_CREATED')).toMatchObject({ id: emitted.body.ids[0], content: { id: 1 } });
    expect((await publish(app.http, { type: 'ITEM_UPDATED', content: { id: 1 }, targetUsers: [user.sub] })).status).toBe(202);
    expect(await client.event('ITEM_UPDATED')).toMatchObject({ content: { id: 1 } });
    await client.close();
  });

  it('refuses a bad token at the upgrade with the gateway\'s 401', async () => {
    const refused = await refusedUpgrade(app.ws, 'not-a-jwt');
    expect(refused.status).toBe(401);
  });

  it('drains on SIGTERM: its sockets are asked to leave while the app still answers, then the process exits 0', async () => {
    const client = await TestClient.connect(app.ws, await mintToken({ sub: 'drained', sid: 'd1' }));
    app.process.kill('SIGTERM');
    const notice = await client.event('herald.reconnect');
    expect(notice).toMatchObject({ afterMs: expect.any(Number) });
    expect((await fetch(`${app.http}/readyz`)).status).toBe(503);
    expect((await fetch(`${app.http}/app/hello`)).status).toBe(200);
    expect((await refusedUpgrade(app.ws, await mintToken({ sub: 'late', sid: 'l1' }))).status).toBe(503);
    await client.close();
    expect(await app.exited).toEqual({ code: 0, signal: null });
  });
});
