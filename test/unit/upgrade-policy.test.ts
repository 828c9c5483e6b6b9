import { describe, expect, it } from 'vitest';
import { Revocations } from '../../src/auth/revocations.js';
import { TokenVerifier } from '../../src/auth/token-verifier.js';
import { createVerificationKey, type VerificationKey } from '../../src/auth/verification-key.js';
import type { UpgradeDecision, UpgradeRequest } from '../../src/engine/engine.js';
import { Hub } from '../../src/gateway/hub.js';
import type { SocketState } from '../../src/gateway/socket-state.js';
import { createUpgradePolicy, type RefusalReason, type UpgradePolicyDeps } from '../../src/gateway/upgrade-policy.js';
import { createMetrics, type Metrics } from '../../src/metrics.js';
import { fakeSocket } from './fake-socket.js';
import { mintUnitToken, nowS } from './unit-tokens.js';

const SECRET = 'upgrade-policy-unit-secret-0123456789abcdef';
const mint = (claims: Record<string, unknown>, secret = SECRET) => mintUnitToken(claims, secret);

function request(options: { url?: string; headers?: Record<string, string> } = {}): UpgradeRequest {
  const headers = new Map(Object.entries(options.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  return { url: options.url ?? '/ws', header: (name) => headers.get(name.toLowerCase()), remoteAddress: '127.0.0.1' };
}

const bearer = (token: string) => request({ headers: { authorization: `Bearer ${token}` } });

interface Setup {
  decide: (request: UpgradeRequest) => Promise<UpgradeDecision<SocketState>>;
  hub: Hub;
  metrics: Metrics;
  revocations: Revocations;
  state: { draining: boolean; ready: boolean };
}

function setup(overrides: Partial<UpgradePolicyDeps> & { key?: VerificationKey } = {}): Setup {
  const revocations = new Revocations();
  const { key, ...deps } = overrides;
  const verifier = new TokenVerifier(key ?? createVerificationKey({ kind: 'secret', secret: SECRET }), revocations);
  const hub = overrides.hub ?? new Hub();
  const metrics = overrides.metrics ?? createMetrics();
  const state = { draining: false, ready: true };
  let counter = 0;
  const decide = createUpgradePolicy({
    verifier,
    hub,
    metrics,
    allowedOrigins: '*',
    maxSocketsPerUser: 32,
    maxConnections: 10_000,
    isDraining: () => state.draining,
    isReady: () => state.ready,
    nextSocketKey: () => `pod-test:${++counter}`,
    ...deps,
  });
  return { decide, hub, metrics, revocations, state };
}

async function rejectedCount(metrics: Metrics, reason: RefusalReason): Promise<number> {
  const metric = await metrics.upgradesRejected.get();
  return metric.values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

/** Checks a refusal: status, a JSON body of exactly {error, message}, and one count under its reason. */
async function expectRefusal(
  decision: UpgradeDecision<SocketState>,
  metrics: Metrics,
  status: number,
  reason: RefusalReason,
): Promise<{ error: string; message: string }> {
  expect(decision.accept).toBe(false);
  if (decision.accept) throw new Error('accepted');
  expect(decision.status).toBe(status);
  const body = JSON.parse(decision.body) as { error: string; message: string };
  expect(Object.keys(body).sort()).toEqual(['error', 'message']);
  expect(body.error).toBe(reason);
  expect(typeof body.message).toBe('string');
  expect(body.message.length).toBeGreaterThan(0);
  expect(await rejectedCount(metrics, reason)).toBe(1);
  return body;
}

function accepted(decision: UpgradeDecision<SocketState>): SocketState {
  if (!decision.accept) throw new Error(`refused ${decision.status} ${decision.body}`);
  return decision.data;
}

describe('upgrade policy', () => {
  it('refuses every upgrade of a draining pod with 503 draining, before looking at the token', async () => {
    const { decide, metrics, state } = setup();
    state.draining = true;
    await expectRefusal(await decide(request()), metrics, 503, 'draining');
  });

  it('refuses upgrades while the pod is not ready with 503 not_ready', async () => {
    const { decide, metrics, state } = setup();
    state.ready = false;
    await expectRefusal(await decide(bearer(await mint({ sub: 'u1', sid: 's1' }))), metrics, 503, 'not_ready');
  });

  it('refuses an upgrade when the pod holds maxConnections sockets with 503 at_capacity', async () => {
    const hub = new Hub();
    hub.add(fakeSocket('other', 'other-s1'));
    hub.add(fakeSocket('other', 'other-s2'));
    const { decide, metrics } = setup({ hub, maxConnections: 2 });
    await expectRefusal(await decide(bearer(await mint({ sub: 'u1', sid: 's1' }))), metrics, 503, 'at_capacity');
  });

  it('accepts an upgrade while the pod holds fewer than maxConnections sockets', async () => {
    const hub = new Hub();
    hub.add(fakeSocket('other', 'other-s1'));
    const { decide } = setup({ hub, maxConnections: 2 });
    expect(accepted(await decide(bearer(await mint({ sub: 'u1', sid: 's1' }))))).toMatchObject({ userId: 'u1' });
  });

  it('refuses an Origin outside HERALD_ALLOWED_ORIGINS with 403 origin_not_allowed', async () => {
    const { decide, metrics } = setup({ allowedOrigins: new Set(['https://app.example']) });
    const token = await mint({ sub: 'u1', sid: 's1' });
    const decision = await decide(
      request({ headers: { authorization: `Bearer ${token}`, origin: 'https://evil.example' } }),
    );
    const body = await expectRefusal(decision, metrics, 403, 'origin_not_allowed');
    expect(body.message).toContain('https://evil.example');
  });

  it('accepts an allowed Origin and a request without Origin (a non-browser client)', async () => {
    const { decide, metrics } = setup({ allowedOrigins: new Set(['https://app.example']) });
    const token = await mint({ sub: 'u1', sid: 's1' });
    accepted(await decide(request({ headers: { authorization: `Bearer ${token}`, origin: 'https://app.example' } })));
    accepted(await decide(bearer(token)));
    expect(await rejectedCount(metrics, 'origin_not_allowed')).toBe(0);
  });

  it('accepts any Origin when HERALD_ALLOWED_ORIGINS is *', async () => {
    const { decide } = setup({ allowedOrigins: '*' });
    const token = await mint({ sub: 'u1', sid: 's1' });
    accepted(await decide(request({ headers: { authorization: `Bearer ${token}`, origin: 'https://anything.example' } })));
  });

  it('refuses an upgrade without a token with 401 missing_token', async () => {
    const { decide, metrics } = setup();
    await expectRefusal(await decide(request()), metrics, 401, 'missing_token');
  });

  it('refuses an upgrade with an empty access_token with 401 missing_token', async () => {
    const { decide, metrics } = setup();
    await expectRefusal(await decide(request({ url: '/ws?access_token=' })), metrics, 401, 'missing_token');
  });

  it('refuses a token signed with another key with 401 invalid_token', async () => {
    const { decide, metrics } = setup();
    const token = await mint({ sub: 'u1', sid: 's1' }, 'another-secret-another-secret-0123456789');
    await expectRefusal(await decide(bearer(token)), metrics, 401, 'invalid_token');
  });

  it('refuses a token that is not a JWT with 401 invalid_token', async () => {
    const { decide, metrics } = setup();
    await expectRefusal(await decide(bearer('not-a-jwt')), metrics, 401, 'invalid_token');
  });

  it('refuses an expired token with 401 token_expired', async () => {
    const { decide, metrics } = setup();
    const token = await mint({ sub: 'u1', sid: 's1', iat: nowS() - 7200, exp: nowS() - 3600 });
    await expectRefusal(await decide(bearer(token)), metrics, 401, 'token_expired');
  });

  it('refuses a token of a revoked user with 401 token_revoked', async () => {
    const { decide, metrics, revocations } = setup();
    const token = await mint({ sub: 'u1', sid: 's1', iat: nowS() - 60 });
    revocations.apply({ userId: 'u1', revokedAt: Date.now(), calledAt: Date.now(), user: true });
    await expectRefusal(await decide(bearer(token)), metrics, 401, 'token_revoked');
  });

  it('accepts a token of that user issued after the revocation', async () => {
    const { decide, revocations } = setup();
    revocations.apply({ userId: 'u1', revokedAt: (nowS() - 60) * 1000, calledAt: (nowS() - 60) * 1000, user: true });
    expect(accepted(await decide(bearer(await mint({ sub: 'u1', sid: 's1', iat: nowS() }))))).toMatchObject({ userId: 'u1' });
  });

  it('reads the token from Authorization: Bearer', async () => {
    const { decide } = setup();
    const data = accepted(await decide(bearer(await mint({ sub: 'bearer-user', sid: 'bearer-session' }))));
    expect(data).toMatchObject({ userId: 'bearer-user', sessionId: 'bearer-session' });
  });

  it('reads the token from the access_token query parameter', async () => {
    const { decide } = setup();
    const token = await mint({ sub: 'query-user', sid: 'query-session' });
    const data = accepted(await decide(request({ url: `/ws?foo=bar&access_token=${encodeURIComponent(token)}` })));
    expect(data).toMatchObject({ userId: 'query-user', sessionId: 'query-session' });
  });

  it('refuses a user past HERALD_MAX_SOCKETS_PER_USER with 429 too_many_sockets', async () => {
    const hub = new Hub();
    hub.add(fakeSocket('u1', 's1'));
    hub.add(fakeSocket('u1', 's2'));
    const { decide, metrics } = setup({ hub, maxSocketsPerUser: 2 });
    await expectRefusal(await decide(bearer(await mint({ sub: 'u1', sid: 's3' }))), metrics, 429, 'too_many_sockets');
  });

  it('accepts a session reconnecting at the per-user limit: it replaces its own socket', async () => {
    const hub = new Hub();
    hub.add(fakeSocket('u1', 's1'));
    hub.add(fakeSocket('u1', 's2'));
    const { decide, metrics } = setup({ hub, maxSocketsPerUser: 2 });
    const data = accepted(await decide(bearer(await mint({ sub: 'u1', sid: 's2' }))));
    expect(data).toMatchObject({ userId: 'u1', sessionId: 's2' });
    expect(await rejectedCount(metrics, 'too_many_sockets')).toBe(0);
  });

  it('counts another user at the limit separately: their sockets do not count against this user', async () => {
    const hub = new Hub();
    hub.add(fakeSocket('u2', 'a'));
    hub.add(fakeSocket('u2', 'b'));
    const { decide } = setup({ hub, maxSocketsPerUser: 2 });
    accepted(await decide(bearer(await mint({ sub: 'u1', sid: 's1' }))));
  });

  it('refuses with 503 draining when the drain starts while the token is being verified', async () => {
    const { decide, metrics, state } = setup();
    const token = await mint({ sub: 'u1', sid: 's1' });
    const pending = decide(bearer(token));
    // The first checks ran synchronously; the verification is now awaiting.
    state.draining = true;
    await expectRefusal(await pending, metrics, 503, 'draining');
  });

  it('accepts a valid token with its userId, sessionId, iat, exp and a fresh socket key', async () => {
    const { decide, metrics } = setup();
    const iat = nowS() - 30;
    const exp = nowS() + 900;
    const first = accepted(await decide(bearer(await mint({ sub: 'u1', sid: 's1', iat, exp }))));
    expect(first).toMatchObject({ userId: 'u1', sessionId: 's1', iat, exp });
    expect(first.socketKey).toBe('pod-test:1');
    const second = accepted(await decide(bearer(await mint({ sub: 'u1', sid: 's2', iat, exp }))));
    expect(second.socketKey).toBe('pod-test:2');
    const metric = await metrics.upgradesRejected.get();
    expect(metric.values.reduce((sum, v) => sum + v.value, 0)).toBe(0);
  });

  it('refuses with 503 not_ready when the signing keys cannot be fetched (JWKS outage), not 401', async () => {
    const key: VerificationKey = {
      key: async () => {
        throw new Error('connect ECONNREFUSED 127.0.0.1:443');
      },
      algorithms: ['HS256'],
    };
    const { decide, metrics } = setup({ key });
    await expectRefusal(await decide(bearer(await mint({ sub: 'u1', sid: 's1' }))), metrics, 503, 'not_ready');
    expect(await rejectedCount(metrics, 'invalid_token')).toBe(0);
  });

  it('counts each refusal under its reason in herald_upgrades_rejected_total', async () => {
    const { decide, metrics, state } = setup();
    await decide(request());
    await decide(request());
    await decide(bearer('garbage'));
    state.draining = true;
    await decide(request());
    const text = await metrics.registry.getSingleMetricAsString('herald_upgrades_rejected_total');
    expect(text).toContain('herald_upgrades_rejected_total{reason="missing_token"} 2');
    expect(text).toContain('herald_upgrades_rejected_total{reason="invalid_token"} 1');
    expect(text).toContain('herald_upgrades_rejected_total{reason="draining"} 1');
  });
});
