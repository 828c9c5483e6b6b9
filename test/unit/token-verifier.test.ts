import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { Revocations } from '../../src/auth/revocations.js';
import { TokenVerifier } from '../../src/auth/token-verifier.js';
import { createVerificationKey } from '../../src/auth/verification-key.js';
import { AuthError } from '../../src/errors.js';

const secret = 'unit-test-secret-unit-test-secret-0123';
const sign = (claims: Record<string, unknown>) =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(secret));
const nowS = () => Math.floor(Date.now() / 1000);

describe('TokenVerifier', () => {
  it('returns the identity of a valid token and checks revocation on cached tokens too', async () => {
    const revocations = new Revocations();
    const verifier = new TokenVerifier(createVerificationKey({ kind: 'secret', secret }), revocations);
    const token = await sign({ sub: 'u1', sid: 's1', iat: nowS() - 5, exp: nowS() + 60 });
    expect(await verifier.verify(token)).toMatchObject({ userId: 'u1', sessionId: 's1' });
    revocations.apply({ userId: 'u1', revokedAt: Date.now(), calledAt: Date.now(), user: true });
    await expect(verifier.verify(token)).rejects.toMatchObject({ reason: 'token_revoked' });
  });

  it('refuses an iat more than the skew ahead and a lifetime over the longest allowed, and accepts the limits', async () => {
    const verifier = new TokenVerifier(createVerificationKey({ kind: 'secret', secret }), new Revocations(), { clockSkewS: 30, maxLifetimeS: 3600 });
    const now = nowS();
    await expect(verifier.verify(await sign({ sub: 'u1', sid: 's1', iat: now + 31, exp: now + 600 }))).rejects.toMatchObject({ reason: 'token_iat_in_future' });
    await expect(verifier.verify(await sign({ sub: 'u1', sid: 's1', iat: now, exp: now + 3601 }))).rejects.toMatchObject({ reason: 'token_lifetime_too_long' });
    await expect(verifier.verify(await sign({ sub: 'u1', sid: 's1', iat: now, exp: now + 100 * 365 * 86_400 }))).rejects.toMatchObject({ reason: 'token_lifetime_too_long' });
    expect(await verifier.verify(await sign({ sub: 'u1', sid: 's1', iat: now + 29, exp: now + 29 + 3600 }))).toMatchObject({ userId: 'u1' });
  });

  it('refuses claims that are not well-formed ids as invalid_token', async () => {
    const verifier = new TokenVerifier(createVerificationKey({ kind: 'secret', secret }), new Revocations());
    for (const claims of [{ sub: '\ud800x', sid: 's' }, { sub: 'u', sid: '\udc00x' }, { sub: 'a\u0000', sid: 's' }, { sub: 'u', sid: 'x'.repeat(129) }]) {
      await expect(verifier.verify(await sign({ ...claims, iat: nowS(), exp: nowS() + 60 }))).rejects.toMatchObject({ reason: 'invalid_token' });
    }
    expect(await verifier.verify(await sign({ sub: '\ufffdx', sid: 's', iat: nowS(), exp: nowS() + 60 }))).toMatchObject({ userId: '\ufffdx' });
  });

  it('refuses a token it saw by the time of a revocation whatever its iat, and says so, so that the pod shares it', async () => {
    const revocations = new Revocations();
    const sighted: unknown[] = [];
    const verifier = new TokenVerifier(createVerificationKey({ kind: 'secret', secret }), revocations, {
      onRevokedBySight: (identity) => sighted.push(identity.sessionId),
    });
    const ahead = await sign({ sub: 'u1', sid: 'ahead', iat: nowS() + 20, exp: nowS() + 600 });
    await verifier.verify(ahead);
    expect([...verifier.cachedFor('u1')].map((i) => i.sessionId)).toEqual(['ahead']);
    const now = Date.now();
    revocations.apply({ userId: 'u1', revokedAt: now, calledAt: now, user: true });
    await expect(verifier.verify(ahead)).rejects.toMatchObject({ reason: 'token_revoked' });
    expect(sighted).toEqual(['ahead']);
    // A token first seen after the call, issued after it: a fresh login.
    expect(await verifier.verify(await sign({ sub: 'u1', sid: 'fresh', iat: nowS() + 21, exp: nowS() + 600 }), now + 1)).toMatchObject({ sessionId: 'fresh' });
  });

  it('refuses a cached token once it expires', async () => {
    const verifier = new TokenVerifier(createVerificationKey({ kind: 'secret', secret }), new Revocations());
    const exp = nowS() + 60;
    const token = await sign({ sub: 'u1', sid: 's1', iat: nowS(), exp });
    await verifier.verify(token);
    const error = await verifier.verify(token, exp * 1000 + 1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthError);
    expect((error as AuthError).reason).toBe('token_expired');
  });

  it('keeps its cache bounded', async () => {
    const verifier = new TokenVerifier(createVerificationKey({ kind: 'secret', secret }), new Revocations(), { cacheSize: 3 });
    for (let i = 0; i < 10; i++) await verifier.verify(await sign({ sub: `u${i}`, sid: 's', iat: nowS(), exp: nowS() + 60 }));
    expect((verifier as unknown as { cache: Map<string, unknown> }).cache.size).toBe(3);
  });
  it("finds every cached token of a user, one or several, and none of an evicted one", async () => {
    const verifier = new TokenVerifier(createVerificationKey({ kind: 'secret', secret }), new Revocations(), { cacheSize: 3 });
    for (const sid of ['a', 'b', 'c']) await verifier.verify(await sign({ sub: 'u1', sid, iat: nowS(), exp: nowS() + 60 }));
    expect([...verifier.cachedFor('u1')].map((i) => i.sessionId)).toEqual(['a', 'b', 'c']);
    // Two other users push u1's two oldest tokens out of the cache.
    await verifier.verify(await sign({ sub: 'u2', sid: 'x', iat: nowS(), exp: nowS() + 60 }));
    await verifier.verify(await sign({ sub: 'u3', sid: 'y', iat: nowS(), exp: nowS() + 60 }));
    expect([...verifier.cachedFor('u1')].map((i) => i.sessionId)).toEqual(['c']);
    expect([...verifier.cachedFor('u2')].map((i) => i.sessionId)).toEqual(['x']);
    await verifier.verify(await sign({ sub: 'u4', sid: 'z', iat: nowS(), exp: nowS() + 60 }));
    expect([...verifier.cachedFor('u1')]).toEqual([]);
    expect([...verifier.cachedFor(undefined)].map((i) => i.userId)).toEqual(['u2', 'u3', 'u4']);
  });
});
