import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { HeraldPublisher } from '../../src/publisher/publisher.js';
import { TestClient, post, publish, refusedUpgrade, type Closed } from './harness/client.js';
import { connect, expectStillReceives, ids, type Connected } from './harness/identities.js';
import { HeldJwksServer } from './harness/jwks-server.js';
import { killAllPods, metricValue, startPod, type EngineName, type Pod } from './harness/pod.js';
import { TcpProxy } from './harness/tcp-proxy.js';
import { mintToken } from './harness/tokens.js';

/** One test's own broker setup: nothing another test wrote is visible in it. */
export interface RevocationBroker {
  /** Environment of a pod that reaches the broker directly. */
  env: Record<string, string>;
  /** The broker's loopback port, which a relay forwards to. */
  port: number;
  /** Environment of a pod that reaches the broker through a relay listening on `port`. */
  envVia(port: number): Record<string, string>;
  /** A publisher-only client on this broker (herald/publisher), as a backend service makes it. */
  publisher(): Promise<HeraldPublisher>;
  /** Details of the store's configuration a token must never change (NATS: the bucket's TTL). */
  storeSettings?(): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

/** Two pods' environments on different broker nodes (NATS: two nodes of a 3-node cluster). */
export interface TwoNodes {
  envA: Record<string, string>;
  envB: Record<string, string>;
  stop(): Promise<void>;
}

export interface RevocationSuiteOptions {
  bus: 'nats' | 'amqp';
  engine: EngineName;
  /** Added to every pod's environment (e.g. recovery off). */
  extraEnv?: Record<string, string>;
  /** Which groups of cases to run; all by default. */
  only?: ('partition' | 'load' | 'tokens' | 'ids' | 'sessions' | 'in-flight' | 'one-socket')[];
  freshBroker(): Promise<RevocationBroker>;
  twoNodes(): Promise<TwoNodes>;
}

const nowS = () => Math.floor(Date.now() / 1000);
const path = (...parts: string[]) => parts.map((p) => encodeURIComponent(p)).join('/');

async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

async function readyz(pod: Pod): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${pod.http}/readyz`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const waitReady = (pod: Pod, timeoutMs = 30_000) =>
  waitFor(`${pod.http} ready`, async () => (await readyz(pod)).status === 200, timeoutMs);

function disconnectUser(pod: Pod, userId: string, body?: unknown) {
  return post(pod.http, `/v1/users/${path(userId)}/disconnect`, body);
}

function disconnectSession(pod: Pod, sessionId: string, userId?: string) {
  return post(pod.http, userId === undefined ? `/v1/sessions/${path(sessionId)}/disconnect` : `/v1/users/${path(userId, 'sessions', sessionId)}/disconnect`);
}

function stillOpen(c: { client: TestClient }): boolean {
  return c.client.ws.readyState === WebSocket.OPEN;
}

async function expectRevoked(pod: Pod, token: string): Promise<void> {
  expect(await refusedUpgrade(pod.ws, token)).toMatchObject({ status: 401, body: { error: 'token_revoked' } });
}

/** Publishes on `pod` until it answers 202: right after a reconnect, bus-up may lag by a moment. */
async function publishWhenReady(pod: Pod, event: unknown): Promise<void> {
  await waitFor(`${pod.http} to accept a publish`, async () => (await publish(pod.http, event)).status === 202);
}

/**
 * Log out everywhere (contract §1, §2) under partitions, clock skew, odd tokens, odd ids and
 * races: a 202 holds on every pod, present, cut off or started later. Every case ends by
 * checking that the other sockets still receive.
 */
export function runRevocationCases(options: RevocationSuiteOptions): void {
  const { bus, engine } = options;
  const runs = (group: NonNullable<RevocationSuiteOptions['only']>[number]) => !options.only || options.only.includes(group);
  const label = options.extraEnv ? ` (${Object.entries(options.extraEnv).map(([k, v]) => `${k}=${v}`).join(' ')})` : '';

  describe(`log out everywhere over ${bus} on ${engine}${label}`, () => {
    const cleanups: (() => Promise<unknown>)[] = [];
    const later = <T extends { stop(): Promise<unknown> } | { close(): Promise<unknown> }>(thing: T): T => {
      cleanups.push(() => ('stop' in thing ? thing.stop() : thing.close()));
      return thing;
    };
    afterEach(async () => {
      await killAllPods();
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
    });

    const fresh = async () => later(await options.freshBroker());
    const startOn = (env: Record<string, string>, extra: Record<string, string | undefined> = {}) =>
      startPod({ engine, env: { ...env, ...options.extraEnv, ...extra } });

    if (runs('partition')) {
      describe('a pod cut off from the bus', () => {
        it('learns a user disconnect made meanwhile as soon as it is back: its sockets close with 4003, the old token is refused there and on a pod started later', async () => {
          const broker = await fresh();
          const relay = later(await TcpProxy.start(broker.port, { raw: true }));
          const [pod1, pod2] = await Promise.all([startOn(broker.env), startOn(broker.envVia(relay.port))]);
          await Promise.all([waitReady(pod1), waitReady(pod2)]);
          const user = ids('cut');
          const oldToken = await mintToken({ sub: user.userId, sid: user.sessionId, iat: nowS() - 5 });
          const victim: Connected = { ...user, client: await TestClient.connect(pod2.ws, oldToken) };
          const bystander2 = await connect(pod2);
          const bystander1 = await connect(pod1);

          relay.cut();
          await waitFor('pod 2 to notice the partition', async () => (await readyz(pod2)).status === 503);
          expect((await disconnectUser(pod1, user.userId)).status).toBe(202);
          await new Promise((resolve) => setTimeout(resolve, 500));
          expect(stillOpen(victim)).toBe(true);
          relay.heal();

          expect((await victim.client.closedWithin(30_000)).code).toBe(4003);
          await waitReady(pod2);
          await expectRevoked(pod2, oldToken);
          const late = await startOn(broker.env);
          await waitReady(late);
          await expectRevoked(late, oldToken);
          // The user logs in again at once.
          const again = await connect(pod2, { userId: user.userId, sessionId: `${user.sessionId}-again` }, { iat: nowS() + 1 });
          await expectStillReceives(pod1, again);
          await expectStillReceives(pod1, bystander2);
          await expectStillReceives(pod2, bystander1);
        }, 90_000);

        it('learns a session disconnect made meanwhile as soon as it is back: that session closes with 1000, its old token is refused everywhere, later pods included', async () => {
          const broker = await fresh();
          const relay = later(await TcpProxy.start(broker.port, { raw: true }));
          const [pod1, pod2] = await Promise.all([startOn(broker.env), startOn(broker.envVia(relay.port))]);
          await Promise.all([waitReady(pod1), waitReady(pod2)]);
          const user = ids('cut-s');
          const oldToken = await mintToken({ sub: user.userId, sid: user.sessionId, iat: nowS() - 5 });
          const victim: Connected = { ...user, client: await TestClient.connect(pod2.ws, oldToken) };
          const sibling = await connect(pod2, { userId: user.userId, sessionId: `${user.sessionId}-sibling` });

          relay.cut();
          await waitFor('pod 2 to notice the partition', async () => (await readyz(pod2)).status === 503);
          expect((await disconnectSession(pod1, user.sessionId, user.userId)).status).toBe(202);
          relay.heal();

          expect((await victim.client.closedWithin(30_000)).code).toBe(1000);
          await waitReady(pod2);
          for (const pod of [pod1, pod2]) await expectRevoked(pod, oldToken);
          const late = await startOn(broker.env);
          await waitReady(late);
          await expectRevoked(late, oldToken);
          await expectStillReceives(pod1, sibling);
        }, 90_000);
      });
    }

    if (runs('load')) {
      /** Disconnects `n` users through a publisher (store first, then the bus), as a backend would; returns their ids. */
      const revokeMany = async (broker: RevocationBroker, n: number, prefix: string): Promise<string[]> => {
        const publisher = await broker.publisher();
        const users = Array.from({ length: n }, (_, i) => `${prefix}-${process.pid}-${i}`);
        const started = Date.now();
        for (let i = 0; i < n; i += 5_000) await Promise.all(users.slice(i, i + 5_000).map((u) => publisher.disconnectUser(u)));
        console.log(`${bus}: ${n} revocations written in ${Date.now() - started} ms`);
        await publisher.close();
        return users;
      };

      /**
       * Polls readiness and tries an upgrade with a revoked token until the pod says it is ready:
       * nothing may get in before, and once ready the table holds at least `n` entries.
       */
      const hammerUntilReady = async (pod: Pod, revokedToken: string, n: number) => {
        const states: { status: number; body: Record<string, unknown> }[] = [];
        let accepted = 0;
        let tableAtReady = 0;
        for (;;) {
          const state = await readyz(pod);
          states.push(state);
          // Once ready, the table holds every revocation (it only grows): read it at once.
          if (state.status === 200) tableAtReady = await metricValue(pod, 'herald_revocations');
          const refused = await refusedUpgrade(pod.ws, revokedToken).catch(() => (accepted++, undefined));
          if (state.status === 200) break;
          if (refused) expect(refused.status === 503 || refused.body.error === 'token_revoked').toBe(true);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        expect(accepted).toBe(0);
        expect(tableAtReady).toBeGreaterThanOrEqual(n);
        return states.filter((s) => s.status === 503);
      };

      it('a pod is neither ready nor accepts an upgrade before it has loaded 100 000 revocations', async () => {
        const broker = await fresh();
        const n = 100_000;
        const users = await revokeMany(broker, n, 'bulk');
        const sample = [users[0]!, users[n - 1]!, ...Array.from({ length: 18 }, () => users[Math.floor(Math.random() * n)]!)];
        const tokens = await Promise.all(sample.map((u) => mintToken({ sub: u, sid: `${u}-s`, iat: nowS() - 60 })));

        const pod = await startOn(broker.env);
        const notReady = await hammerUntilReady(pod, tokens[1]!, n);
        for (const state of notReady) expect(state.body).toMatchObject({ status: 'not_ready', revocations: 'loading' });
        const loaded = pod.logs.find((l) => l.msg === 'revocations loaded');
        console.log(`${bus}: start: ${JSON.stringify(loaded)}; not-ready answers seen: ${notReady.length}`);
        for (const token of tokens) await expectRevoked(pod, token);
        const c = await connect(pod, ids('fine'));
        await expectStillReceives(pod, c);
      }, 300_000);

      it('a pod back from a partition is not ready, and says it is loading, until it has read the 100 000 revocations made meanwhile', async () => {
        const broker = await fresh();
        const relay = later(await TcpProxy.start(broker.port, { raw: true }));
        const pod = await startOn(broker.envVia(relay.port));
        await waitReady(pod);
        const bystander = await connect(pod);
        relay.cut();
        await waitFor('the pod to notice the partition', async () => (await readyz(pod)).status === 503);
        const n = 100_000;
        const users = await revokeMany(broker, n, 'cut-bulk');
        const last = await mintToken({ sub: users[n - 1]!, sid: 's', iat: nowS() - 60 });
        relay.heal();
        const notReady = await hammerUntilReady(pod, last, n);
        const loading = notReady.filter((s) => s.body.bus === 'up');
        console.log(`${bus}: back from the partition: ${notReady.length} not-ready answers, ${loading.length} with the bus up and revocations loading`);
        for (const state of loading) expect(state.body).toMatchObject({ status: 'not_ready', revocations: 'loading' });
        await expectRevoked(pod, last);
        await expectStillReceives(pod, bystander);
      }, 300_000);
    }

    if (runs('tokens')) {
      describe('clock skew and token lifetimes', () => {
        it('refuses a token whose iat is more than HERALD_JWT_CLOCK_SKEW_S ahead, and one whose lifetime is over HERALD_JWT_MAX_LIFETIME_S, with 401', async () => {
          const broker = await fresh();
          const pod = await startOn(broker.env, { HERALD_JWT_CLOCK_SKEW_S: '30', HERALD_JWT_MAX_LIFETIME_S: '86400' });
          await waitReady(pod);
          const who = ids('odd');
          const future = await mintToken({ sub: who.userId, sid: who.sessionId, iat: nowS() + 45, exp: nowS() + 3600 });
          expect(await refusedUpgrade(pod.ws, future)).toMatchObject({ status: 401, body: { error: 'token_iat_in_future' } });
          const long = await mintToken({ sub: who.userId, sid: who.sessionId, iat: nowS(), exp: nowS() + 86_401 });
          expect(await refusedUpgrade(pod.ws, long)).toMatchObject({ status: 401, body: { error: 'token_lifetime_too_long' } });
          // Within the limits: accepted.
          const slightlyAhead = await connect(pod, who, { iat: nowS() + 20, exp: nowS() + 86_000 });
          await expectStillReceives(pod, slightlyAhead);
        });

        it('a user disconnect revokes a token open at the call whatever its iat, on every pod and on later pods; a fresh login connects at once', async () => {
          const broker = await fresh();
          const [pod1, pod2] = await Promise.all([startOn(broker.env), startOn(broker.env)]);
          await Promise.all([waitReady(pod1), waitReady(pod2)]);
          const user = ids('ahead');
          // Issued by a clock 25 s ahead of the pods': within the allowed skew.
          const ahead = await mintToken({ sub: user.userId, sid: user.sessionId, iat: nowS() + 25 });
          const open: Connected = { ...user, client: await TestClient.connect(pod1.ws, ahead) };
          const bystander = await connect(pod2);

          expect((await disconnectUser(pod2, user.userId)).status).toBe(202);
          expect((await open.client.closedWithin()).code).toBe(4003);
          for (const pod of [pod1, pod2]) await expectRevoked(pod, ahead);
          const late = await startOn(broker.env);
          await waitReady(late);
          await expectRevoked(late, ahead);
          // A fresh login right after the reset: a new session, issued after the call.
          const fresh1 = await connect(pod1, { userId: user.userId, sessionId: `${user.sessionId}-new` }, { iat: nowS() + 1 });
          const fresh2 = await connect(late, { userId: user.userId, sessionId: `${user.sessionId}-new2` }, { iat: nowS() + 1 });
          await expectStillReceives(pod2, fresh1);
          await expectStillReceives(pod2, fresh2);
          await expectStillReceives(pod1, bystander);
        }, 60_000);

        it('issuedBefore states the instant by the issuer clock: earlier tokens are refused everywhere, a token issued at it connects; a bad one is 400', async () => {
          const broker = await fresh();
          const [pod1, pod2] = await Promise.all([startOn(broker.env), startOn(broker.env)]);
          await Promise.all([waitReady(pod1), waitReady(pod2)]);
          const user = ids('ib');
          const issuerNow = nowS() + 20; // the issuer's clock runs 20 s ahead
          const before = await mintToken({ sub: user.userId, sid: user.sessionId, iat: issuerNow - 1 });
          const open: Connected = { ...user, client: await TestClient.connect(pod2.ws, before) };
          for (const bad of [{ issuedBefore: 'soon' }, { issuedBefore: nowS() + 3600 }, { issuedBefore: -1 }, { other: 1 }]) {
            expect((await disconnectUser(pod1, user.userId, bad)).status).toBe(400);
          }
          expect(stillOpen(open)).toBe(true);
          expect((await disconnectUser(pod1, user.userId, { issuedBefore: issuerNow })).status).toBe(202);
          expect((await open.client.closedWithin()).code).toBe(4003);
          for (const pod of [pod1, pod2]) await expectRevoked(pod, before);
          const after = await connect(pod1, { userId: user.userId, sessionId: `${user.sessionId}-2` }, { iat: issuerNow });
          await expectStillReceives(pod2, after);
        }, 60_000);

        it('a token of a hundred years is refused, and neither disables user disconnects nor changes the revocation store', async () => {
          const broker = await fresh();
          const pod = await startOn(broker.env);
          await waitReady(pod);
          const settingsBefore = await broker.storeSettings?.();
          const user = ids('century');
          const century = await mintToken({ sub: user.userId, sid: user.sessionId, iat: nowS(), exp: nowS() + 100 * 365 * 86_400 });
          expect(await refusedUpgrade(pod.ws, century)).toMatchObject({ status: 401, body: { error: 'token_lifetime_too_long' } });
          const c = await connect(pod, user, { iat: nowS() - 5 });
          expect((await disconnectUser(pod, user.userId)).status).toBe(202);
          expect((await c.client.closedWithin()).code).toBe(4003);
          expect(await broker.storeSettings?.()).toEqual(settingsBefore);
          const other = await connect(pod);
          await expectStillReceives(pod, other);
        });
      });
    }

    if (runs('ids')) {
      it('ids must be well-formed Unicode without control characters, 1–128 characters: 401 at the upgrade, 400 at publish and in paths; look-alikes never share a topic', async () => {
        const broker = await fresh();
        const pod = await startOn(broker.env);
        await waitReady(pod);
        const replacement = await connect(pod, { userId: `\ufffdx-${process.pid}`, sessionId: '\ufffds' });
        const bad = [`\ud800x-${process.pid}`, `\udc00x-${process.pid}`, 'a\u0000b', 'tab\there', 'c1\u0085', 'del\u007f', '', 'x'.repeat(129)];
        for (const id of bad) {
          for (const claims of [{ sub: id, sid: 'fine' }, { sub: 'fine', sid: id }]) {
            const refused = await refusedUpgrade(pod.ws, await mintToken(claims));
            expect(refused, JSON.stringify(claims)).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
          }
          const published = await publish(pod.http, { type: 'ODD', content: null, targetUsers: [id] });
          expect(published.status, JSON.stringify(id)).toBe(400);
          for (const field of ['fromUserId', 'fromSessionId', 'id']) {
            const result = await publish(pod.http, { type: 'ODD', content: null, targetUsers: ['fine'], [field]: id });
            expect(result.status, `${field} ${JSON.stringify(id)}`).toBe(400);
          }
        }
        // Path parameters: UTF-8 percent-encoding (a lone surrogate has none: raw bytes of one are 400 too).
        for (const id of ['a\u0000b', 'tab\there', 'c1\u0085', 'del\u007f', 'x'.repeat(129)]) {
          expect((await disconnectUser(pod, id)).status, JSON.stringify(id)).toBe(400);
          expect((await disconnectSession(pod, id)).status, JSON.stringify(id)).toBe(400);
          expect((await disconnectSession(pod, 'fine', id)).status, JSON.stringify(id)).toBe(400);
          expect((await disconnectSession(pod, id, 'fine')).status, JSON.stringify(id)).toBe(400);
        }
        expect((await post(pod.http, '/v1/users/%ED%A0%80x/disconnect')).status).toBe(400);
        // The look-alike with a real replacement character is a user like any other.
        await expectStillReceives(pod, replacement);
      });
    }

    if (runs('sessions')) {
      describe('sessions belong to a user', () => {
        it('another user socket with the same session id is neither replaced nor closed by a user-scoped session disconnect; the logout revokes that session older tokens everywhere', async () => {
          const broker = await fresh();
          const [pod1, pod2] = await Promise.all([startOn(broker.env), startOn(broker.env)]);
          await Promise.all([waitReady(pod1), waitReady(pod2)]);
          const sessionId = `shared-${process.pid}-${Date.now()}`;
          const alice = { userId: `alice-${sessionId}`, sessionId };
          const bob = { userId: `bob-${sessionId}`, sessionId };
          const aliceToken = await mintToken({ sub: alice.userId, sid: sessionId, iat: nowS() - 5 });
          const a: Connected = { ...alice, client: await TestClient.connect(pod1.ws, aliceToken) };
          const b = await connect(pod2, bob, { iat: nowS() - 5 });
          const b1 = await connect(pod1, { userId: bob.userId, sessionId: `${sessionId}-other` });
          // Bob's socket of the same session id did not replace Alice's.
          await expectStillReceives(pod2, a);
          await expectStillReceives(pod1, b);

          expect((await disconnectSession(pod2, sessionId, alice.userId)).status).toBe(202);
          expect((await a.client.closedWithin()).code).toBe(1000);
          for (const pod of [pod1, pod2]) await expectRevoked(pod, aliceToken);
          const late = await startOn(broker.env);
          await waitReady(late);
          await expectRevoked(late, aliceToken);
          // Alice logs in again on that session: a token issued after the logout connects.
          const again = await connect(late, alice, { iat: nowS() + 1 });
          await expectStillReceives(pod1, again);
          await expectStillReceives(pod1, b);
          await expectStillReceives(pod2, b1);
        }, 60_000);

        it('POST /v1/sessions/{id}/disconnect closes that session of every user and revokes their older tokens; the user-scoped one answers 404 for no session path', async () => {
          const broker = await fresh();
          const [pod1, pod2] = await Promise.all([startOn(broker.env), startOn(broker.env)]);
          await Promise.all([waitReady(pod1), waitReady(pod2)]);
          const sessionId = `global-${process.pid}-${Date.now()}`;
          const tokenA = await mintToken({ sub: `a-${sessionId}`, sid: sessionId, iat: nowS() - 5 });
          const tokenB = await mintToken({ sub: `b-${sessionId}`, sid: sessionId, iat: nowS() - 5 });
          const a = await TestClient.connect(pod1.ws, tokenA);
          const b = await TestClient.connect(pod2.ws, tokenB);
          const other = await connect(pod2, { userId: `a-${sessionId}`, sessionId: `${sessionId}-x` });
          expect((await post(pod1.http, `/v1/users/${path(`a-${sessionId}`)}/sessions/disconnect`)).status).toBe(404);
          expect((await disconnectSession(pod2, sessionId)).status).toBe(202);
          const closes: Closed[] = await Promise.all([a.closedWithin(), b.closedWithin()]);
          expect(closes.map((c) => c.code)).toEqual([1000, 1000]);
          for (const pod of [pod1, pod2]) for (const token of [tokenA, tokenB]) await expectRevoked(pod, token);
          await expectStillReceives(pod1, other);
        }, 60_000);
      });
    }

    if (runs('in-flight')) {
      describe('disconnects racing an upgrade', () => {
        for (const kind of ['session', 'user'] as const) {
          it(`a ${kind} disconnect that lands while the upgrade is being verified keeps that socket from receiving: refused, or closed (${kind === 'session' ? 1000 : 4003}) when it opens`, async () => {
            const broker = await fresh();
            const jwks = later(await HeldJwksServer.start());
            const pod = await startOn(broker.env, { HERALD_JWT_SECRET: undefined, HERALD_JWKS_URL: jwks.url });
            await waitReady(pod);
            const who = ids(`race-${kind}`);
            const token = await jwks.sign({ sub: who.userId, sid: who.sessionId, iat: nowS() - 2 });
            const requested = jwks.requested;
            const ws = new WebSocket(`${pod.ws}?access_token=${encodeURIComponent(token)}`);
            const frames: string[] = [];
            ws.on('message', (data) => frames.push(data.toString()));
            const outcome = new Promise<{ refused?: number; closed?: number }>((resolve) => {
              ws.once('unexpected-response', (_req, res) => resolve({ refused: res.statusCode }));
              ws.once('close', (code) => resolve({ closed: code }));
              ws.on('error', () => {});
            });
            await requested;
            const call = kind === 'session' ? disconnectSession(pod, who.sessionId, who.userId) : disconnectUser(pod, who.userId);
            expect((await call).status).toBe(202);
            jwks.release();
            const result = await Promise.race([outcome, new Promise<'open'>((r) => setTimeout(() => r('open'), 5_000))]);
            if (result === 'open') {
              await publish(pod.http, { type: 'LEAK', content: null, targetUsers: [who.userId] });
              await new Promise((resolve) => setTimeout(resolve, 500));
            }
            expect(frames.filter((f) => f.includes('LEAK'))).toEqual([]);
            expect(result).not.toBe('open');
            if (result !== 'open' && result.refused === undefined) expect(result.closed).toBe(kind === 'session' ? 1000 : 4003);
            else if (result !== 'open') expect(result.refused).toBe(401);
            ws.terminate();
            const other = await TestClient.connect(pod.ws, await jwks.sign({ sub: `${who.userId}-other`, sid: 's' }));
            await expectStillReceives(pod, { client: other, userId: `${who.userId}-other`, sessionId: 's' });
          }, 60_000);
        }

        if (bus === 'nats') {
          it('a session disconnect that lands after verification, while the upgrade waits for the log (since), closes that socket with 1000 when it opens', async () => {
            const broker = await fresh();
            const pod = await startOn(broker.env);
            await waitReady(pod);
            const first = await connect(pod);
            const welcome = first.client.frames[0]!;
            const who = ids('race-since');
            const token = await mintToken({ sub: who.userId, sid: who.sessionId, iat: nowS() - 2 });
            // A since this pod has not reached: the upgrade waits up to 2 s after verifying the token.
            const since = `${welcome.epoch}:${Number(welcome.seq) + 1_000_000}`;
            const ws = new WebSocket(`${pod.ws}?access_token=${encodeURIComponent(token)}&since=${encodeURIComponent(since)}`);
            const frames: string[] = [];
            ws.on('message', (data) => frames.push(data.toString()));
            const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
            ws.on('error', () => {});
            await new Promise((resolve) => setTimeout(resolve, 400));
            expect((await disconnectSession(pod, who.sessionId, who.userId)).status).toBe(202);
            const code = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(-1), 6_000))]);
            expect(frames.filter((f) => !f.includes('herald.'))).toEqual([]);
            expect(code).toBe(1000);
            await expectStillReceives(pod, first);
          });
        }
      });
    }

    if (runs('one-socket')) {
      it('one socket per session: the same session opened on two pods on different broker nodes at once, 100 times, leaves exactly one survivor, the loser closed with 4009', async () => {
        const nodes = later(await options.twoNodes());
        const [podA, podB] = await Promise.all([startOn(nodes.envA), startOn(nodes.envB)]);
        await Promise.all([waitReady(podA), waitReady(podB)]);
        const base = ids('race');
        const watcherA = await connect(podA);
        const watcherB = await connect(podB);
        const outcomes: string[] = [];
        for (let attempt = 0; attempt < 100; attempt++) {
          const who = { userId: base.userId, sessionId: `${base.sessionId}-${attempt}` };
          const [a, b] = await Promise.all([connect(podA, who), connect(podB, who)]);
          // Every pod has seen both announcements once each pod routed a later event for this user.
          for (const pod of [podA, podB]) {
            await publishWhenReady(pod, { type: `ROUND_${attempt}_${pod.port}`, content: null, targetUsers: [watcherA.userId, watcherB.userId] });
          }
          await watcherA.client.event(`ROUND_${attempt}_${podB.port}`);
          await watcherB.client.event(`ROUND_${attempt}_${podA.port}`);
          await new Promise((resolve) => setTimeout(resolve, 50));
          const open = [a, b].filter(stillOpen);
          if (open.length !== 1) {
            outcomes.push(`attempt ${attempt}: ${open.length} survivors`);
            await Promise.all([a.client.close(), b.client.close()]);
            continue;
          }
          const loser = open[0] === a ? b : a;
          expect((await loser.client.closedWithin()).code).toBe(4009);
          await open[0]!.client.close();
        }
        expect(outcomes).toEqual([]);
        await expectStillReceives(podA, watcherB);
        await expectStillReceives(podB, watcherA);
      }, 300_000);
    }
  });
}
