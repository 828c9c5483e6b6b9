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
    revocations.revoke('u1', Date.now());
    await expect(verifier.verify(token)).rejects.toMatchObject({ reason: 'token_revoked' });
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
});
