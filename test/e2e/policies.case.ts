import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { TestClient, publish, refusedUpgrade } from './harness/client.js';
import { connect, expectStillReceives, ids } from './harness/identities.js';
import { killAllPods, metricValue, spawnFailingPod, startPod, type EngineName, type Pod } from './harness/pod.js';
import { freePort } from './harness/free-port.js';
import { mintToken } from './harness/tokens.js';

/** Behaviour that needs its own pod configuration: keys, issuer, origins, limits, slow consumers, drain, start-up. */
export function runPolicyCases(engine: EngineName): void {
  describe(`gateway policies on ${engine}`, () => {
    afterAll(killAllPods);

    describe('issuer and audience', () => {
      let pod: Pod;
      beforeAll(async () => {
        pod = await startPod({ engine, env: { HERALD_JWT_ISSUER: 'https://auth.example', HERALD_JWT_AUDIENCE: 'herald' } });
      });

      it('accepts a token with the configured issuer and audience', async () => {
        const c = await connect(pod, ids(), { iss: 'https://auth.example', aud: 'herald' });
        await expectStillReceives(pod, c);
        await c.client.close();
      });

      it.each([
        ['a wrong issuer', { iss: 'https://evil.example', aud: 'herald' }],
        ['no issuer', { aud: 'herald' }],
        ['a wrong audience', { iss: 'https://auth.example', aud: 'other' }],
      ])('refuses %s with 401', async (_name, claims) => {
        const refused = await refusedUpgrade(pod.ws, await mintToken({ sub: 'u', sid: 's', ...claims }));
        expect(refused).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
      });
    });

    describe('public-key verification', () => {
      let pod: Pod;
      let privateKey: CryptoKey;
      let pem: string;
      beforeAll(async () => {
        const pair = await generateKeyPair('ES256', { extractable: true });
        privateKey = pair.privateKey;
        pem = await exportSPKI(pair.publicKey);
        pod = await startPod({ engine, env: { HERALD_JWT_SECRET: undefined, HERALD_JWT_PUBLIC_KEY: pem } });
      });

      const sign = (alg: string, key: CryptoKey | Uint8Array, sub = 'pk-user') =>
        new SignJWT({ sid: `${sub}-s` }).setProtectedHeader({ alg }).setSubject(sub).setIssuedAt().setExpirationTime('1h').sign(key);

      it('accepts an ES256 token signed by the matching private key', async () => {
        const token = await sign('ES256', privateKey, `pk-${Date.now()}`);
        const client = await TestClient.connect(pod.ws, token);
        expect(client.frames[0]?.type).toBe('herald.welcome');
        await client.close();
      });

      it('refuses an HS256 token made with the public key as its secret (algorithm confusion)', async () => {
        const refused = await refusedUpgrade(pod.ws, await sign('HS256', new TextEncoder().encode(pem)));
        expect(refused).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
      });

      it('refuses a token signed by another EC key', async () => {
        const other = await generateKeyPair('ES256');
        const refused = await refusedUpgrade(pod.ws, await sign('ES256', other.privateKey));
        expect(refused).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
      });
    });

    describe('JWKS verification', () => {
      let pod: Pod;
      let jwks: Server;
      let privateKey: CryptoKey;
      beforeAll(async () => {
        const pair = await generateKeyPair('RS256', { extractable: true });
        privateKey = pair.privateKey;
        const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
        jwks = createServer((_req, res) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ keys: [jwk] }));
        }).listen(0, '127.0.0.1');
        await once(jwks, 'listening');
        const url = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/.well-known/jwks.json`;
        pod = await startPod({ engine, env: { HERALD_JWT_SECRET: undefined, HERALD_JWKS_URL: url } });
      });
      afterAll(() => {
        jwks?.close();
      });

      const sign = (key: CryptoKey, kid = 'k1') =>
        new SignJWT({ sid: `jwks-s-${Date.now()}` })
          .setProtectedHeader({ alg: 'RS256', kid })
          .setSubject(`jwks-${Date.now()}`)
          .setIssuedAt()
          .setExpirationTime('1h')
          .sign(key);

      it('accepts a token whose key is in the JWKS', async () => {
        const client = await TestClient.connect(pod.ws, await sign(privateKey));
        expect(client.frames[0]?.type).toBe('herald.welcome');
        await client.close();
      });

      it('refuses with 503 not_ready, not 401, while the JWKS cannot be fetched', async () => {
        const unreachable = `http://127.0.0.1:${await freePort()}/.well-known/jwks.json`;
        const blind = await startPod({ engine, env: { HERALD_JWT_SECRET: undefined, HERALD_JWKS_URL: unreachable } });
        const refused = await refusedUpgrade(blind.ws, await sign(privateKey));
        expect(refused).toMatchObject({ status: 503, body: { error: 'not_ready' } });
        await blind.kill();
      });

      it('refuses a token signed by a key that is not in the JWKS', async () => {
        const other = await generateKeyPair('RS256');
        const refused = await refusedUpgrade(pod.ws, await sign(other.privateKey));
        expect(refused).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
      });
    });

    describe('origins and per-user limits', () => {
      let pod: Pod;
      beforeAll(async () => {
        pod = await startPod({
          engine,
          env: { HERALD_ALLOWED_ORIGINS: 'https://app.example,https://admin.example', HERALD_MAX_SOCKETS_PER_USER: '2' },
        });
      });

      it('refuses a browser origin that is not allowed with 403 and accepts the allowed ones', async () => {
        const who = ids();
        const token = await mintToken({ sub: who.userId, sid: who.sessionId });
        const refused = await refusedUpgrade(pod.ws, token, { origin: 'https://evil.example' });
        expect(refused).toMatchObject({ status: 403, body: { error: 'origin_not_allowed' } });
        const allowed = await TestClient.connect(pod.ws, token, { origin: 'https://admin.example' });
        await expectStillReceives(pod, { client: allowed, ...who });
        await allowed.close();
      });

      it('refuses a user’s socket past HERALD_MAX_SOCKETS_PER_USER with 429, and accepts again once one closes', async () => {
        const { userId } = ids();
        const first = await connect(pod, { userId, sessionId: `${userId}-1` });
        const second = await connect(pod, { userId, sessionId: `${userId}-2` });
        const refused = await refusedUpgrade(pod.ws, await mintToken({ sub: userId, sid: `${userId}-3` }));
        expect(refused).toMatchObject({ status: 429, body: { error: 'too_many_sockets' } });
        // A session reconnecting replaces its own socket: never a 429.
        const secondAgain = await connect(pod, { userId, sessionId: `${userId}-2` });
        expect(await second.client.closedWithin()).toMatchObject({ code: 4009 });
        const otherUser = await connect(pod);
        await first.client.close();
        await expect.poll(() => metricValue(pod, 'herald_connections')).toBeLessThanOrEqual(2);
        const third = await connect(pod, { userId, sessionId: `${userId}-3` });
        await expectStillReceives(pod, third);
        await expectStillReceives(pod, secondAgain);
        await Promise.all([secondAgain, third, otherUser].map((c) => c.client.close()));
      });
    });

    describe('capacity', () => {
      it('refuses upgrades past what its open-file limit allows with 503 at_capacity, and recovers', async () => {
        // 300 files less the 200 the gateway keeps in reserve: room for 100 sockets.
        const pod = await startPod({ engine, openFileLimit: 300 });
        const held = [];
        for (let i = 0; i < 100; i++) held.push(await connect(pod));
        const refused = await refusedUpgrade(pod.ws, await mintToken({ sub: 'one-too-many', sid: 'one-too-many' }));
        expect(refused).toMatchObject({ status: 503, body: { error: 'at_capacity' } });
        await expectStillReceives(pod, held[0]!);
        await held.pop()!.client.close();
        await expect.poll(() => metricValue(pod, 'herald_connections')).toBe(99);
        const next = await connect(pod);
        await expectStillReceives(pod, next);
        await Promise.all([...held, next].map((c) => c.client.close()));
        await pod.kill();
      });
    });

    describe('slow consumers', () => {
      it('closes a socket whose send buffer passes HERALD_MAX_BACKPRESSURE with 4008, after what was queued', async () => {
        const pod = await startPod({ engine, env: { HERALD_MAX_BACKPRESSURE: '65536' } });
        const slow = await connect(pod);
        const healthy = await connect(pod);
        slow.client.ws.pause();
        const content = 'x'.repeat(60_000);
        let sent = 0;
        // Loopback kernel buffers hold a few MB; keep publishing until the gateway gives up on the reader.
        while ((await metricValue(pod, 'herald_slow_consumer_total')) === 0 && sent < 2_000) {
          const batch = Array.from({ length: 15 }, () => ({ type: 'FLOOD', content, targetUsers: [slow.userId] }));
          expect((await publish(pod.http, batch)).status).toBe(202);
          sent += batch.length;
        }
        expect(await metricValue(pod, 'herald_slow_consumer_total')).toBe(1);
        await expectStillReceives(pod, healthy);
        slow.client.ws.resume();
        expect(await slow.client.closedWithin(10_000)).toMatchObject({ code: 4008 });
        // Frames arrive in order and none is lost before the close: the client knows what it missed.
        const received = slow.client.events.filter((e) => e.type === 'FLOOD').length;
        expect(received).toBeGreaterThan(0);
        expect(received).toBeLessThan(sent);
        await healthy.client.close();
        await pod.kill();
      });
    });

    describe('idle timeout', () => {
      it('keeps a socket that answers protocol pings and closes one that does not', async () => {
        const pod = await startPod({ engine, env: { HERALD_IDLE_TIMEOUT_S: '8' } });
        const healthy = await connect(pod);
        const who = ids();
        const token = await mintToken({ sub: who.userId, sid: who.sessionId });
        // A dead link: a client that never answers pings and sends nothing.
        const dead = new WebSocket(`${pod.ws}?access_token=${token}`, { autoPong: false });
        let pings = 0;
        dead.on('ping', () => pings++);
        const deadClosed = new Promise<number>((resolve) => dead.on('close', (code) => resolve(code)));
        await Promise.race([
          deadClosed,
          new Promise<never>((_, reject) => setTimeout(() => reject(new Error('dead socket still open after 20 s')), 20_000)),
        ]);
        expect(pings).toBeGreaterThan(0);
        await expectStillReceives(pod, healthy);
        expect(await metricValue(pod, 'herald_connections')).toBe(1);
        await healthy.client.close();
        await pod.kill();
      });
    });

    describe('SIGTERM drain', () => {
      it('asks clients to leave, refuses new ones, closes laggards with 1012 at the deadline and exits 0', async () => {
        const pod = await startPod({ engine, env: { HERALD_DRAIN_TIMEOUT_MS: '2000' } });
        const leaver = await connect(pod);
        const laggard = await connect(pod);
        leaver.client.ws.on('message', (data) => {
          if (JSON.parse(data.toString()).type === 'herald.reconnect') leaver.client.ws.close(1000, 'leaving for another pod');
        });
        const started = Date.now();
        pod.process.kill('SIGTERM');

        for (const c of [leaver, laggard]) {
          const reconnect = await c.client.event('herald.reconnect');
          expect(reconnect.afterMs).toEqual(expect.any(Number));
          expect(reconnect.afterMs).toBeGreaterThanOrEqual(0);
          expect(reconnect.afterMs).toBeLessThanOrEqual(2000);
        }
        const readyz = await fetch(`${pod.http}/readyz`);
        expect(readyz.status).toBe(503);
        expect((await fetch(`${pod.http}/healthz`)).status).toBe(200);
        const refused = await refusedUpgrade(pod.ws, await mintToken({ sub: 'late', sid: 'late' }));
        expect(refused).toMatchObject({ status: 503, body: { error: 'draining' } });

        expect(await leaver.client.closedWithin()).toMatchObject({ code: 1000 });
        const laggardClosed = await laggard.client.closedWithin(6_000);
        expect(laggardClosed.code).toBe(1012);
        expect(Date.now() - started).toBeGreaterThanOrEqual(1_500);
        expect(await pod.exited).toEqual({ code: 0, signal: null });
      });
    });

    describe('start-up', () => {
      const run = (env: Record<string, string | undefined>) => spawnFailingPod(engine, env);

      it('exits 2 with one line naming each bad variable', async () => {
        const started = run({ HERALD_PORT: 'eighty', HERALD_BUS: 'kafka', HERALD_MAX_BACKPRESSURE: '-5', HERALD_LOG_LEVEL: 'loud' });
        const [code] = await once(started.child, 'exit');
        expect(code).toBe(2);
        const lines = started.stderr().trim().split('\n');
        for (const name of ['HERALD_PORT', 'HERALD_BUS', 'HERALD_MAX_BACKPRESSURE', 'HERALD_LOG_LEVEL']) {
          expect(lines.filter((l) => l.includes(name))).toHaveLength(1);
        }
        expect(lines).toHaveLength(4);
      });

      it('in production refuses to start without a key and a publish token', async () => {
        const started = run({ NODE_ENV: 'production', HERALD_JWT_SECRET: undefined, HERALD_PUBLISH_TOKEN: undefined });
        const [code] = await once(started.child, 'exit');
        expect(code).toBe(2);
        expect(started.stderr()).toMatch(/HERALD_JWT_SECRET/);
        expect(started.stderr()).toMatch(/HERALD_PUBLISH_TOKEN/);
      });

      it('in production (NODE_ENV=production) a misspelled HERALD_ variable stops the start: exit 2 naming the closest known one', async () => {
        const started = run({ NODE_ENV: 'production', HERALD_BUSS: 'nats' });
        const [code] = await once(started.child, 'exit');
        expect(code).toBe(2);
        expect(started.stderr().trim().split('\n')).toEqual([
          'herald: invalid configuration: HERALD_BUSS: not a Herald variable (did you mean HERALD_BUS?)',
        ]);
      });

      it('in development a misspelled HERALD_ variable is a warning naming the closest known one, and the pod serves', async () => {
        const pod = await startPod({ engine, env: { HERALD_BUSS: 'nats' } });
        const warning = pod.logs.find((l) => l.level === 40 && String(l.msg).includes('HERALD_BUSS'));
        expect(warning?.msg).toBe('configuration: HERALD_BUSS: not a Herald variable (did you mean HERALD_BUS?)');
        const c = await connect(pod);
        await expectStillReceives(pod, c);
        await c.client.close();
        await pod.kill();
      });

      it('NODE_ENV=prod (anything but unset or development) without keys is production: exit 2 naming them, no secret printed', async () => {
        const started = run({ NODE_ENV: 'prod', HERALD_JWT_SECRET: undefined, HERALD_PUBLISH_TOKEN: undefined });
        let stdout = '';
        started.child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
        const [code] = await once(started.child, 'exit');
        expect(code).toBe(2);
        const lines = started.stderr().trim().split('\n');
        expect(lines).toHaveLength(2);
        expect(lines[0]).toMatch(/^herald: invalid configuration: HERALD_JWT_SECRET: required in production.*\(NODE_ENV=prod:/);
        expect(lines[1]).toMatch(/^herald: invalid configuration: HERALD_PUBLISH_TOKEN: required in production/);
        expect(started.stderr() + stdout).not.toMatch(/Herald development mode|access_token=|HERALD_JWT_SECRET=|HERALD_PUBLISH_TOKEN=/);
      });

      it('in development prints a client token and a curl command that together deliver an event', async () => {
        const pod = await startPod({ engine, env: { HERALD_JWT_SECRET: undefined, HERALD_PUBLISH_TOKEN: undefined } });
        await expect.poll(() => pod.stderr.some((l) => l.trim().startsWith('curl '))).toBe(true);
        const banner = pod.stderr.join('\n');
        const connectUrl = /Connect:\s+(\S+)/.exec(banner)?.[1];
        expect(connectUrl).toMatch(new RegExp(`^ws://127\\.0\\.0\\.1:${pod.port}/ws\\?access_token=`));
        const token = new URL(connectUrl!).searchParams.get('access_token')!;
        const client = await TestClient.connect(pod.ws, token);
        const curlStart = pod.stderr.findIndex((l) => l.trim().startsWith('curl '));
        const command = pod.stderr.slice(curlStart, curlStart + 2).join('\n');
        const curl = spawn('sh', ['-c', command], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        curl.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
        const [code] = await once(curl, 'exit');
        expect(code).toBe(0);
        expect(JSON.parse(out).ids).toHaveLength(1);
        expect(await client.event('ITEM_CREATED')).toMatchObject({ content: { item: { id: 7 } } });
        await client.close();
        await pod.kill();
      });
    });
  });
}
