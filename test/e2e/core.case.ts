import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClient, post, publish, refusedUpgrade, settle } from './harness/client.js';
import { connect, expectStillReceives, ids } from './harness/identities.js';
import { killAllPods, metricValue, startPod, type EngineName, type Pod } from './harness/pod.js';
import { mintToken, unsignedToken } from './harness/tokens.js';

const now = () => Math.floor(Date.now() / 1000);

/** The single-pod contract (§1, §2 HTTP, §5) against one engine, through real sockets and HTTP. */
export function runCoreCases(engine: EngineName): void {
  describe(`core gateway on ${engine}`, () => {
    let pod: Pod;
    beforeAll(async () => {
      pod = await startPod({ engine });
    });
    afterAll(killAllPods);

    describe('delivery', () => {
      it('welcomes a socket with its user, session, heartbeat and log position once its subscriptions are live', async () => {
        const who = ids();
        const { client } = await connect(pod, who);
        expect(client.frames[0]).toEqual({
          type: 'herald.welcome',
          userId: who.userId,
          sessionId: who.sessionId,
          heartbeatMs: expect.any(Number),
          // Recovery is on by default (§6): the event log's name and where this socket starts.
          epoch: expect.stringMatching(/^[^:]{1,64}$/),
          seq: expect.any(Number),
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
          fromSessionId: 'backend-session',
        });
        expect(result.status).toBe(202);
        expect(result.body.ids).toHaveLength(1);
        for (const c of [a, a2, b]) {
          const frame = await c.client.event('ITEM_CREATED');
          // targetUsers, fromSessionId and inclusive never reach clients.
          expect(frame).toEqual({
            type: 'ITEM_CREATED',
            id: result.body.ids[0],
            content: { item: { id: 7 } },
            fromUserId: 'backend',
            ts: expect.any(Number),
            seq: expect.any(Number),
          });
        }
        await settle(pod.http, [bystander]);
        expect(bystander.client.events.map((e) => e.type)).not.toContain('ITEM_CREATED');
        await Promise.all([a, a2, b, bystander].map((c) => c.client.close()));
      });

      it('skips the originating session when inclusive is false, and includes it when true', async () => {
        const origin = await connect(pod);
        const sibling = await connect(pod, { userId: origin.userId, sessionId: `${origin.sessionId}-tab2` });
        const friend = await connect(pod);
        const event = (type: string, inclusive?: boolean) => ({
          type,
          content: { list: 1 },
          targetUsers: [origin.userId, friend.userId],
          fromUserId: origin.userId,
          fromSessionId: origin.sessionId,
          ...(inclusive === undefined ? {} : { inclusive }),
        });
        expect((await publish(pod.http, event('EXCLUSIVE', false))).status).toBe(202);
        expect((await publish(pod.http, event('DEFAULT'))).status).toBe(202);
        expect((await publish(pod.http, event('INCLUSIVE', true))).status).toBe(202);
        for (const c of [sibling, friend]) {
          await c.client.event('INCLUSIVE');
          expect(c.client.events.map((e) => e.type)).toEqual(['EXCLUSIVE', 'DEFAULT', 'INCLUSIVE']);
        }
        await origin.client.event('INCLUSIVE');
        expect(origin.client.events.map((e) => e.type)).toEqual(['INCLUSIVE']);
        await Promise.all([origin, sibling, friend].map((c) => c.client.close()));
      });

      it('delivers the events of one request in request order, and a batch all or nothing', async () => {
        const c = await connect(pod);
        const batch = Array.from({ length: 50 }, (_, i) => ({ type: 'SEQ', content: { i }, targetUsers: [c.userId] }));
        const ok = await publish(pod.http, batch);
        expect(ok.status).toBe(202);
        expect(ok.body.ids).toHaveLength(50);
        await c.client.next((f) => f.type === 'SEQ' && (f.content as { i: number }).i === 49);
        expect(c.client.events.map((e) => (e.content as { i: number }).i)).toEqual(batch.map((_, i) => i));
        expect(new Set(ok.body.ids).size).toBe(50);

        const bad = await publish(pod.http, [
          { type: 'NOT_SENT', content: 1, targetUsers: [c.userId] },
          { type: 'NOT_SENT', content: 2, targetUsers: [] },
        ]);
        expect(bad.status).toBe(400);
        expect(bad.body.details[0].path).toBe('/1/targetUsers');
        await settle(pod.http, [c]);
        expect(c.client.events.map((e) => e.type)).not.toContain('NOT_SENT');
        await c.client.close();
      });

      it('keeps a given event id and makes sortable ones otherwise', async () => {
        const c = await connect(pod);
        const given = await publish(pod.http, { type: 'A', content: null, targetUsers: [c.userId], id: 'my-id-1' });
        expect(given.body.ids).toEqual(['my-id-1']);
        expect((await c.client.event('A')).id).toBe('my-id-1');
        const made = await publish(pod.http, [1, 2, 3].map(() => ({ type: 'B', content: null, targetUsers: [c.userId] })));
        expect([...made.body.ids].sort()).toEqual(made.body.ids);
        await c.client.close();
      });

      it('answers herald.ping with herald.pong', async () => {
        const c = await connect(pod);
        const before = Date.now();
        c.client.send({ type: 'herald.ping' });
        const pong = await c.client.event('herald.pong');
        expect(pong.ts).toBeGreaterThanOrEqual(before - 1000);
        await c.client.close();
      });
    });

    describe('sessions', () => {
      it('closes the older socket of a session with 4009 when a new one opens, and delivers to the new one', async () => {
        const who = ids();
        const old = await connect(pod, who);
        const fresh = await connect(pod, who);
        expect(await old.client.closedWithin()).toMatchObject({ code: 4009 });
        await expectStillReceives(pod, fresh);
        expect(old.client.events).toEqual([]);
        await fresh.client.close();
      });

      it('closes every socket of a user with 4003 on user disconnect and refuses its older tokens', async () => {
        const who = ids();
        const phone = await connect(pod, who);
        const laptop = await connect(pod, { userId: who.userId, sessionId: `${who.sessionId}-laptop` });
        const other = await connect(pod);
        const leaked = await mintToken({ sub: who.userId, sid: who.sessionId, iat: now() - 10 });

        const answer = await post(pod.http, `/v1/users/${encodeURIComponent(who.userId)}/disconnect`);
        expect(answer.status).toBe(202);
        expect(await phone.client.closedWithin()).toMatchObject({ code: 4003 });
        expect(await laptop.client.closedWithin()).toMatchObject({ code: 4003 });

        const refused = await refusedUpgrade(pod.ws, leaked);
        expect(refused).toMatchObject({ status: 401, body: { error: 'token_revoked' } });
        // A token issued after the reset is fine.
        const reLogin = await connect(pod, who, { iat: now() + 1 });
        await expectStillReceives(pod, reLogin);
        await expectStillReceives(pod, other);
        await Promise.all([reLogin, other].map((c) => c.client.close()));
      });

      it('closes one session with 1000 on session disconnect and leaves the user’s other sessions open', async () => {
        const who = ids();
        const target = await connect(pod, who);
        const sibling = await connect(pod, { userId: who.userId, sessionId: `${who.sessionId}-other` });
        const answer = await post(pod.http, `/v1/sessions/${encodeURIComponent(who.sessionId)}/disconnect`);
        expect(answer.status).toBe(202);
        expect(await target.client.closedWithin()).toMatchObject({ code: 1000 });
        await expectStillReceives(pod, sibling);
        // A session disconnect is a logout: that session's older tokens are refused, a token issued after it connects.
        const refused = await refusedUpgrade(pod.ws, await mintToken({ sub: who.userId, sid: who.sessionId, iat: now() - 5 }));
        expect(refused).toMatchObject({ status: 401, body: { error: 'token_revoked' } });
        const again = await connect(pod, who, { iat: now() + 1 });
        await expectStillReceives(pod, again);
        await Promise.all([sibling, again].map((c) => c.client.close()));
      });
    });

    describe('authentication at the upgrade', () => {
      const refusals: [string, () => Promise<string | undefined>, string][] = [
        ['no token', async () => undefined, 'missing_token'],
        ['an expired token', () => mintToken({ sub: 'u', sid: 's', iat: now() - 100, exp: now() - 10 }), 'token_expired'],
        ['a token signed with another key', () => mintToken({ sub: 'u', sid: 's' }, { secret: 'x'.repeat(40) }), 'invalid_token'],
        ['a token with alg none', async () => unsignedToken({ sub: 'u', sid: 's' }), 'invalid_token'],
        ['a token without sid', () => mintToken({ sub: 'u' }), 'invalid_token'],
        ['a token without iat', () => mintToken({ sub: 'u', sid: 's' }, { omit: ['iat'] }), 'invalid_token'],
        ['a token without exp', () => mintToken({ sub: 'u', sid: 's' }, { omit: ['exp'] }), 'invalid_token'],
        ['a token with an empty sub', () => mintToken({ sub: '', sid: 's' }), 'invalid_token'],
        ['a token with a 129-character sid', () => mintToken({ sub: 'u', sid: 's'.repeat(129) }), 'invalid_token'],
        ['garbage', async () => 'not-a-jwt', 'invalid_token'],
      ];
      it.each(refusals)('refuses %s with 401 and a JSON body', async (_name, token, error) => {
        const witness = await connect(pod);
        const refused = await refusedUpgrade(pod.ws, await token());
        expect(refused.status).toBe(401);
        expect(refused.body).toEqual({ error, message: expect.any(String) });
        await expectStillReceives(pod, witness);
        await witness.client.close();
      });

      it('accepts the token in the Authorization header', async () => {
        const who = ids();
        const token = await mintToken({ sub: who.userId, sid: who.sessionId });
        const client = await TestClient.connect(pod.ws, token, { via: 'header' });
        await expectStillReceives(pod, { client, ...who });
        await client.close();
      });
    });

    describe('publish API errors', () => {
      let witness: Awaited<ReturnType<typeof connect>>;
      beforeAll(async () => {
        witness = await connect(pod);
      });
      afterAll(async () => {
        await witness.client.close();
      });
      const valid = () => ({ type: 'OK', content: { a: 1 }, targetUsers: ['someone'] });

      const invalid: [string, unknown, string][] = [
        ['a type starting with herald.', { ...valid(), type: 'herald.fake' }, '/type'],
        ['a type with a space', { ...valid(), type: 'BAD TYPE' }, '/type'],
        ['a 129-character type', { ...valid(), type: 'T'.repeat(129) }, '/type'],
        ['no content', { type: 'OK', targetUsers: ['u'] }, '/content'],
        ['no targetUsers', { type: 'OK', content: 1 }, '/targetUsers'],
        ['empty targetUsers', { ...valid(), targetUsers: [] }, '/targetUsers'],
        ['duplicate targetUsers', { ...valid(), targetUsers: ['a', 'a'] }, '/targetUsers'],
        ['10 001 targetUsers', { ...valid(), targetUsers: Array.from({ length: 10_001 }, (_, i) => `u${i}`) }, '/targetUsers'],
        ['an empty user id', { ...valid(), targetUsers: [''] }, '/targetUsers/0'],
        ['a non-boolean inclusive', { ...valid(), inclusive: 'yes' }, '/inclusive'],
        ['a numeric fromUserId', { ...valid(), fromUserId: 5 }, '/fromUserId'],
        ['an unknown field', { ...valid(), target: ['x'] }, '/target'],
        ['content over 64 KiB', { ...valid(), content: 'x'.repeat(64 * 1024) }, '/content'],
        ['a number instead of an event', 42, ''],
        ['an empty batch', [], ''],
        ['a batch of 1001 events', Array.from({ length: 1001 }, () => ({ type: 'OK', content: 1, targetUsers: ['u'] })), ''],
        ['one bad event in a batch', [{ type: 'OK', content: 1, targetUsers: ['u'] }, { type: '', content: 1, targetUsers: ['u'] }], '/1/type'],
      ];
      it.each(invalid)('answers 400 invalid_event with a JSON pointer for %s', async (_name, body, path) => {
        const answer = await publish(pod.http, body);
        expect(answer.status).toBe(400);
        expect(answer.body.error).toBe('invalid_event');
        expect(answer.body.details.map((d: { path: string }) => d.path)).toContain(path);
        for (const detail of answer.body.details) expect(detail.message).toEqual(expect.any(String));
        await expectStillReceives(pod, witness);
      });

      it('accepts content of exactly 64 KiB serialized', async () => {
        const content = 'x'.repeat(64 * 1024 - 2); // the quotes make it 65536 bytes
        const event = { type: 'BIG', content, targetUsers: [witness.userId] };
        expect((await publish(pod.http, event)).status).toBe(202);
        expect((await witness.client.event('BIG')).content).toBe(content);
      });

      it('answers 401 without the publish token or with a wrong one', async () => {
        for (const token of [null, 'wrong-token-wrong-token-wrong']) {
          const answer = await post(pod.http, '/v1/events', valid(), { token });
          expect(answer.status).toBe(401);
          expect(answer.body.error).toBe('unauthorized');
        }
        expect((await post(pod.http, '/v1/users/x/disconnect', undefined, { token: null })).status).toBe(401);
        expect((await post(pod.http, '/v1/sessions/x/disconnect', undefined, { token: null })).status).toBe(401);
        await expectStillReceives(pod, witness);
      });

      it('answers 413 for a body over 1 MiB', async () => {
        const raw = JSON.stringify({ ...valid(), content: 'x'.repeat(1024 * 1024) });
        const answer = await post(pod.http, '/v1/events', undefined, { raw });
        expect(answer.status).toBe(413);
        expect(answer.body.error).toBe('payload_too_large');
        await expectStillReceives(pod, witness);
      });

      it('answers 415 for a body that is not JSON', async () => {
        const wrongType = await post(pod.http, '/v1/events', undefined, { raw: 'type=OK', contentType: 'text/plain' });
        expect(wrongType.status).toBe(415);
        expect(wrongType.body.error).toBe('unsupported_media_type');
        const broken = await post(pod.http, '/v1/events', undefined, { raw: '{"type": "OK",' });
        expect(broken.status).toBe(415);
        expect(broken.body.error).toBe('not_json');
        await expectStillReceives(pod, witness);
      });

      it('answers 404 with JSON for an unknown path and 405 for a wrong method', async () => {
        const missing = await post(pod.http, '/v1/nothing', {});
        expect(missing.status).toBe(404);
        expect(missing.body.error).toBe('not_found');
        const wrong = await fetch(`${pod.http}/v1/events`, { headers: { authorization: 'Bearer herald-test-publish-token-0123456789' } });
        expect(wrong.status).toBe(405);
        expect(await wrong.json()).toMatchObject({ error: 'method_not_allowed' });
      });
    });

    describe('client frames', () => {
      const bad: [string, string | Buffer, number][] = [
        ['bad JSON', '{"type":', 1008],
        ['an unknown frame type', JSON.stringify({ type: 'herald.subscribe' }), 1008],
        ['a frame that is not an object', '42', 1008],
        ['herald.auth without a token', JSON.stringify({ type: 'herald.auth' }), 1008],
        ['a binary frame', Buffer.from([1, 2, 3]), 1008],
        ['a frame over 16 KiB', JSON.stringify({ type: 'herald.ping', pad: 'x'.repeat(16 * 1024) }), 1009],
        ['a frame of 200 KiB', JSON.stringify({ type: 'herald.ping', pad: 'x'.repeat(200 * 1024) }), 1009],
      ];
      it.each(bad)('closes the socket on %s with the right code and a reason', async (_name, frame, code) => {
        const offender = await connect(pod);
        const witness = await connect(pod);
        offender.client.send(frame);
        const closed = await offender.client.closedWithin();
        expect(closed.code).toBe(code);
        expect(closed.reason.length).toBeGreaterThan(0);
        await expectStillReceives(pod, witness);
        await witness.client.close();
      });
    });

    describe('token lifetime', () => {
      it('closes a socket with 4001 when its token expires', async () => {
        const c = await connect(pod, ids(), { exp: now() + 2 });
        const witness = await connect(pod);
        expect(await c.client.closedWithin(6_000)).toMatchObject({ code: 4001 });
        await expectStillReceives(pod, witness);
        await witness.client.close();
      });

      it('keeps a socket open past its first expiry after a herald.auth refresh', async () => {
        const who = ids();
        const c = await connect(pod, who, { exp: now() + 2 });
        c.client.send({ type: 'herald.auth', token: await mintToken({ sub: who.userId, sid: who.sessionId, exp: now() + 600 }) });
        await new Promise((r) => setTimeout(r, 3_500));
        await expectStillReceives(pod, c);
        await c.client.close();
      });

      it('refuses a refresh for another session or with a bad token with 4001', async () => {
        const who = ids();
        const wrongSession = await connect(pod, who);
        wrongSession.client.send({ type: 'herald.auth', token: await mintToken({ sub: who.userId, sid: 'another' }) });
        expect(await wrongSession.client.closedWithin()).toMatchObject({ code: 4001 });

        const longToken = await connect(pod);
        longToken.client.send({ type: 'herald.auth', token: 'x'.repeat(10_000) });
        expect(await longToken.client.closedWithin()).toMatchObject({ code: 4001 });

        const expired = await connect(pod);
        expired.client.send({
          type: 'herald.auth',
          token: await mintToken({ sub: expired.userId, sid: expired.sessionId, iat: now() - 100, exp: now() - 5 }),
        });
        expect(await expired.client.closedWithin()).toMatchObject({ code: 4001 });
      });
    });

    describe('operations', () => {
      it('serves /healthz, /readyz and the contract metrics', async () => {
        expect((await fetch(`${pod.http}/healthz`)).status).toBe(200);
        const ready = await fetch(`${pod.http}/readyz`);
        expect(ready.status).toBe(200);
        expect(await ready.json()).toEqual({ status: 'ready' });
        const text = await (await fetch(`${pod.http}/metrics`)).text();
        for (const name of [
          'herald_connections',
          'herald_connections_closed_total',
          'herald_upgrades_rejected_total',
          'herald_events_received_total',
          'herald_frames_sent_total',
          'herald_slow_consumer_total',
          'herald_bus_up',
          'herald_delivery_seconds_bucket',
        ]) {
          expect(text).toMatch(new RegExp(`^${name}[ {]`, 'm'));
        }
        expect(await metricValue(pod, 'herald_bus_up')).toBe(1);
        expect(await metricValue(pod, 'herald_upgrades_rejected_total', '{reason="missing_token"}')).toBeGreaterThan(0);
      });

      it('holds nothing after thousands of sockets open and close: registries, topics and timers back at zero', async () => {
        const churnPod = await startPod({ engine });
        const rounds = 20;
        const perRound = 100;
        for (let round = 0; round < rounds; round++) {
          const clients = await Promise.all(
            Array.from({ length: perRound }, async (_, i) => {
              // Some users hold two sessions, so per-user entries are shared and then released.
              const who = { userId: `churn-${round}-${i >> 1}`, sessionId: `churn-${round}-${i}` };
              return connect(churnPod, who);
            }),
          );
          const last = clients[clients.length - 1]!;
          await expectStillReceives(churnPod, last);
          // Half close from the client, half are closed by the server (session disconnect).
          await Promise.all(
            clients.map((c, i) =>
              i % 2 === 0 ? c.client.close() : post(churnPod.http, `/v1/sessions/${c.sessionId}/disconnect`).then(() => c.client.closed),
            ),
          );
        }
        await expect.poll(() => metricValue(churnPod, 'herald_connections'), { timeout: 5_000 }).toBe(0);
        expect(await metricValue(churnPod, 'herald_user_topics')).toBe(0);
        expect(await metricValue(churnPod, 'herald_token_expiry_entries')).toBe(0);
        expect(await metricValue(churnPod, 'herald_connections_closed_total', '{code="1000"}')).toBe(rounds * perRound);
        await churnPod.kill();
      });
    });
  });
}
