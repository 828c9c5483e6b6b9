import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { TestClient, post, refusedUpgrade } from './harness/client.js';
import { freePort } from './harness/free-port.js';
import { connect, expectStillReceives, ids, type Connected } from './harness/identities.js';
import { killAllPods, spawnFailingPod, startPod, type EngineName, type Pod } from './harness/pod.js';
import { rawHttp } from './harness/raw-http.js';
import { TEST_PUBLISH_TOKEN, mintToken } from './harness/tokens.js';

/** `depth` arrays inside each other around `inner`: `nested(2, '1')` is `[[1]]`. */
const nested = (depth: number, inner = '1') => '['.repeat(depth) + inner + ']'.repeat(depth);

/**
 * Issue 12: nothing a client or a publisher gets wrong stalls a pod or passes silently. Each
 * case is followed by a check that other sockets still receive.
 */
export function runRobustnessCases(engine: EngineName): void {
  describe(`robustness on ${engine}`, () => {
    let pod: Pod;
    let witness: Connected;
    beforeAll(async () => {
      pod = await startPod({ engine });
      witness = await connect(pod);
    });
    afterAll(killAllPods);

    describe('publish bodies that are refused, not altered', () => {
      it('refuses content nested 65 deep with 400 at /content and accepts 64', async () => {
        const event = (content: string) => `{"type":"DEEP","content":${content},"targetUsers":[${JSON.stringify(witness.userId)}]}`;
        const tooDeep = await post(pod.http, '/v1/events', undefined, { raw: event(nested(65)) });
        expect(tooDeep.status).toBe(400);
        expect(tooDeep.body).toEqual({ error: 'invalid_event', details: [{ path: '/content', message: expect.stringMatching(/64 deep/) }] });
        const deepest = await post(pod.http, '/v1/events', undefined, { raw: event(nested(64)) });
        expect(deepest.status).toBe(202);
        expect((await witness.client.event('DEEP')).content).toEqual(JSON.parse(nested(64)));
        await expectStillReceives(pod, witness);
      });

      it('refuses a 1 MiB batch of 16 contents nested 32k deep with 400 at the first one', async () => {
        const deep = nested(32_000, '0');
        const events = Array.from({ length: 16 }, () => `{"type":"DEEP","content":${deep},"targetUsers":["nobody"]}`);
        const raw = `[${events.join(',')}]`;
        expect(raw.length).toBeLessThanOrEqual(1024 * 1024);
        const answer = await post(pod.http, '/v1/events', undefined, { raw });
        expect(answer.status).toBe(400);
        expect(answer.body.details).toEqual([{ path: '/0/content', message: expect.stringMatching(/64 deep/) }]);
        await expectStillReceives(pod, witness);
      });

      it('refuses a body nested deeper than an event allows anywhere, and names the field', async () => {
        const raw = `[{"type":"DEEP","content":1,"targetUsers":["u"]},{"type":"DEEP","content":1,"targetUsers":${nested(70, '"u"')}}]`;
        const answer = await post(pod.http, '/v1/events', undefined, { raw });
        expect(answer.status).toBe(400);
        expect(answer.body.details[0].path).toBe('/1/targetUsers');
        await expectStillReceives(pod, witness);
      });

      it('refuses a number that is not finite (1e999) with 400 at its path, instead of sending null', async () => {
        const raw = `{"type":"HUGE","content":{"list":[1,-1e999]},"targetUsers":[${JSON.stringify(witness.userId)}]}`;
        const answer = await post(pod.http, '/v1/events', undefined, { raw });
        expect(answer.status).toBe(400);
        expect(answer.body.details).toEqual([{ path: '/content/list/1', message: expect.stringMatching(/finite/) }]);
        await expectStillReceives(pod, witness);
        expect(witness.client.events.map((e) => e.type)).not.toContain('HUGE');
      });

      it('refuses a body that is not valid UTF-8 with 415, instead of replacing the bytes', async () => {
        const prefix = Buffer.from('{"type":"BAD_UTF8","content":"caf');
        const raw = Buffer.concat([prefix, Buffer.from([0xe9]), Buffer.from(`","targetUsers":[${JSON.stringify(witness.userId)}]}`)]);
        const answer = await post(pod.http, '/v1/events', undefined, { raw });
        expect(answer.status).toBe(415);
        expect(answer.body).toEqual({ error: 'not_json', message: expect.stringMatching(/UTF-8/) });
        await expectStillReceives(pod, witness);
        expect(witness.client.events.map((e) => e.type)).not.toContain('BAD_UTF8');
      });

      it('refuses a body declared in another charset with 415 and accepts charset=utf-8', async () => {
        const event = { type: 'CHARSET', content: 'café', targetUsers: [witness.userId] };
        const latin1 = await post(pod.http, '/v1/events', event, { contentType: 'application/json; charset=latin1' });
        expect(latin1.status).toBe(415);
        expect(latin1.body).toEqual({ error: 'unsupported_media_type', message: expect.stringMatching(/latin1/) });
        const utf8 = await post(pod.http, '/v1/events', event, { contentType: 'application/json; charset="UTF-8"' });
        expect(utf8.status).toBe(202);
        expect((await witness.client.event('CHARSET')).content).toBe('café');
        await expectStillReceives(pod, witness);
      });

      it('answers a body that stops arriving with 408 in JSON, logged at warn, not error', async () => {
        const head =
          `POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TEST_PUBLISH_TOKEN}\r\n` +
          'Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{"type":"SLOW",';
        const answer = await rawHttp(pod.port, [head], { waitMs: 9_000 });
        expect(answer.status).toBe(408);
        expect(answer.body).toEqual({ error: 'request_timeout', message: expect.any(String) });
        expect(answer.closedByServer).toBe(true);
        await expectStillReceives(pod, witness);
        expect(pod.logs.some((l) => l.level === 40 && l.path === '/v1/events' && l.reason === 'stalled')).toBe(true);
        expect(pod.logs.filter((l) => Number(l.level) >= 50)).toEqual([]);
      });

      it('logs a body cut by the client at warn, not error', async () => {
        const head =
          `POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TEST_PUBLISH_TOKEN}\r\n` +
          'Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{"type":"CUT",';
        await rawHttp(pod.port, [head], { gapMs: 200, end: 'cut' });
        await expect.poll(() => pod.logs.some((l) => l.level === 40 && l.reason === 'cut'), { timeout: 3_000 }).toBe(true);
        expect(pod.logs.filter((l) => Number(l.level) >= 50)).toEqual([]);
        await expectStillReceives(pod, witness);
      });
    });

    describe('authorization and the socket path', () => {
      it('takes the Bearer scheme in any case on /v1 and on /ws', async () => {
        const event = { type: 'LOWER', content: 1, targetUsers: [witness.userId] };
        expect((await post(pod.http, '/v1/events', event, { scheme: 'bearer' })).status).toBe(202);
        expect((await post(pod.http, '/v1/events', event, { scheme: 'BEARER' })).status).toBe(202);
        const who = ids();
        const token = await mintToken({ sub: who.userId, sid: who.sessionId });
        const client = await TestClient.connect(pod.ws, token, { via: 'header', scheme: 'bearer' });
        await expectStillReceives(pod, { client, ...who });
        await client.close();
        await expectStillReceives(pod, witness);
      });

      it('refuses a token sent in another scheme on /ws with 401 invalid_token naming the scheme', async () => {
        const token = await mintToken({ sub: 'u', sid: 's' });
        const refused = await refusedUpgrade(pod.ws, undefined, { authorization: `Token ${token}` });
        expect(refused.status).toBe(401);
        expect(refused.body).toEqual({ error: 'invalid_token', message: expect.stringMatching(/Token scheme/) });
        // Basic auth added by a proxy does not hide an access_token beside it.
        const who = ids();
        const good = await mintToken({ sub: who.userId, sid: who.sessionId });
        const ws = new WebSocket(`${pod.ws}?access_token=${good}`, { headers: { authorization: 'Basic dTpw' } });
        await once(ws, 'open');
        ws.close();
        await expectStillReceives(pod, witness);
      });

      it('answers a plain GET /ws with 426 upgrade_required in JSON', async () => {
        const answer = await fetch(pod.ws.replace('ws:', 'http:'));
        expect(answer.status).toBe(426);
        expect(answer.headers.get('upgrade')).toBe('websocket');
        expect(await answer.json()).toEqual({ error: 'upgrade_required', message: expect.any(String) });
        await expectStillReceives(pod, witness);
      });
    });

    describe('client frame rate', () => {
      it('answers a burst within the default limit (20 a second, twice that at once)', async () => {
        const c = await connect(pod);
        for (let i = 0; i < 30; i++) c.client.send({ type: 'herald.ping' });
        await expect.poll(() => c.client.frames.filter((f) => f.type === 'herald.pong').length).toBe(30);
        await expectStillReceives(pod, c);
        await c.client.close();
      });

      it('closes a socket that floods frames with 1008 and a reason; the others keep receiving', async () => {
        const flooder = await connect(pod);
        const sentAt = performance.now();
        for (let i = 0; i < 200; i++) flooder.client.send({ type: 'herald.ping' });
        const closed = await flooder.client.closedWithin();
        const seconds = (performance.now() - sentAt) / 1000;
        expect(closed).toEqual({ code: 1008, reason: 'too many frames: at most 20 a second' });
        // 2 s of frames at once, and the bucket refills at 20 a second while the burst arrives (slowly, on a loaded machine).
        const pongs = flooder.client.frames.filter((f) => f.type === 'herald.pong').length;
        expect(pongs).toBeLessThanOrEqual(40 + Math.floor(20 * seconds));
        expect(pongs).toBeLessThan(200);
        await expectStillReceives(pod, witness);
      });

      it('takes HERALD_MAX_CLIENT_FRAMES_PER_S: 2 a second allows a burst of 4, then closes', async () => {
        const strict = await startPod({ engine, env: { HERALD_MAX_CLIENT_FRAMES_PER_S: '2' } });
        const c = await connect(strict);
        const other = await connect(strict);
        for (let i = 0; i < 4; i++) c.client.send({ type: 'herald.ping' });
        await expect.poll(() => c.client.frames.filter((f) => f.type === 'herald.pong').length).toBe(4);
        // Refilled at 2 a second: one more frame after 600 ms is fine.
        await new Promise((r) => setTimeout(r, 600));
        c.client.send({ type: 'herald.ping' });
        await expect.poll(() => c.client.frames.filter((f) => f.type === 'herald.pong').length).toBe(5);
        c.client.send({ type: 'herald.ping' });
        c.client.send({ type: 'herald.ping' });
        expect(await c.client.closedWithin()).toEqual({ code: 1008, reason: 'too many frames: at most 2 a second' });
        await expectStillReceives(strict, other);
        await strict.kill();
      });
    });

    describe('start-up failures', () => {
      const run = (env: Record<string, string | undefined>) => spawnFailingPod(engine, env);
      let holder: Server;
      let heldPort: number;
      beforeAll(async () => {
        heldPort = await freePort();
        holder = createServer().listen({ host: '127.0.0.1', port: heldPort, exclusive: true });
        await once(holder, 'listening');
      });
      afterAll(() => {
        holder?.close();
      });

      it.each([
        ['a host name with a space', 'bad host'],
        ['an IPv4 address out of range', '999.1.1.1'],
        ['an address of no interface of this machine', '192.0.2.1'],
      ])('exits 2 with one line naming HERALD_HOST for %s', async (_name, host) => {
        const started = run({ HERALD_HOST: host });
        const [code] = await once(started.child, 'exit');
        expect(code).toBe(2);
        const lines = started.stderr().trim().split('\n');
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(/^herald: invalid configuration: HERALD_HOST: /);
        expect(lines[0]).toContain(JSON.stringify(host));
      });

      it('exits non-zero with one line naming HERALD_PORT when the port is in use, no stack trace', async () => {
        const started = run({ HERALD_PORT: String(heldPort) });
        const [code] = await once(started.child, 'exit');
        expect(code).toBe(1);
        const lines = started.stderr().trim().split('\n');
        expect(lines).toEqual([`herald: cannot listen: HERALD_PORT ${heldPort} is in use on HERALD_HOST "127.0.0.1" (another process holds it)`]);
      });

      it('exits 2 with one line for a bad HERALD_MAX_CLIENT_FRAMES_PER_S', async () => {
        for (const value of ['fast', '0', '-3']) {
          const started = run({ HERALD_MAX_CLIENT_FRAMES_PER_S: value });
          const [code] = await once(started.child, 'exit');
          expect(code).toBe(2);
          const lines = started.stderr().trim().split('\n');
          expect(lines).toHaveLength(1);
          expect(lines[0]).toMatch(/^herald: invalid configuration: HERALD_MAX_CLIENT_FRAMES_PER_S: /);
        }
      });
    });
  });
}
