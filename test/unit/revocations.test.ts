import { describe, expect, it } from 'vitest';
import { Revocations, type Revocation } from '../../src/auth/revocations.js';

const userRevocation = (userId: string, revokedAt: number, calledAt = revokedAt): Revocation => ({ userId, revokedAt, calledAt, user: true });
/** A token as the table sees it; `seenAt` far in the future unless given (a pod saw it only now). */
const token = (userId: string, iat: number, seenAt = Number.POSITIVE_INFINITY, sessionId = 's1') => ({ userId, sessionId, iat, seenAt });

describe('Revocations', () => {
  it('refuses tokens issued before the revocation and accepts later ones', () => {
    const revocations = new Revocations();
    revocations.apply(userRevocation('u1', 1_000_500));
    expect(revocations.check(token('u1', 999))).toBeDefined();
    expect(revocations.check(token('u1', 1_000))).toBeDefined(); // iat 1000 s = 1 000 000 ms, earlier than 1 000 500
    expect(revocations.check(token('u1', 1_001))).toBeUndefined();
    expect(revocations.check(token('u2', 1))).toBeUndefined();
  });

  it('refuses a token a pod saw by the call whatever its iat: one issued by a clock ahead', () => {
    const revocations = new Revocations();
    revocations.apply(userRevocation('u1', 1_000_000, 1_000_000));
    expect(revocations.check(token('u1', 1_020, 999_000))).toMatchObject({ userId: 'u1', user: true });
    expect(revocations.check(token('u1', 1_020, 1_000_000))).toBeDefined();
    expect(revocations.check(token('u1', 1_020, 1_000_001))).toBeUndefined();
  });

  it('keeps the latest instants of a scope, whatever order they come in, and tells listeners only of changes', () => {
    const revocations = new Revocations();
    const heard: Revocation[] = [];
    revocations.onChange((r) => heard.push(r));
    expect(revocations.apply(userRevocation('u1', 5_000_000))).toBe(true);
    expect(revocations.apply(userRevocation('u1', 2_000_000))).toBe(false);
    expect(revocations.check(token('u1', 4_000))).toBeDefined();
    // An earlier issuedBefore made later: the instant stays, the call time moves on.
    expect(revocations.apply(userRevocation('u1', 2_000_000, 6_000_000))).toBe(true);
    expect(heard.map((r) => [r.revokedAt, r.calledAt])).toEqual([
      [5_000_000, 5_000_000],
      [5_000_000, 6_000_000],
    ]);
  });

  it('keeps sessions apart by user; a session revocation without a user covers that session id of every user', () => {
    const revocations = new Revocations();
    revocations.apply({ userId: 'alice', sessionId: 's1', revokedAt: 2_000_000, calledAt: 2_000_000, user: false });
    expect(revocations.check(token('alice', 1_000, undefined, 's1'))).toMatchObject({ userId: 'alice', sessionId: 's1', user: false });
    expect(revocations.check(token('alice', 1_000, undefined, 's2'))).toBeUndefined();
    expect(revocations.check(token('bob', 1_000, undefined, 's1'))).toBeUndefined();
    revocations.apply({ sessionId: 's1', revokedAt: 2_000_000, calledAt: 2_000_000, user: false });
    expect(revocations.check(token('bob', 1_000, undefined, 's1'))).toMatchObject({ sessionId: 's1' });
    expect(revocations.check(token('bob', 1_000, undefined, 's2'))).toBeUndefined();
  });

  it('keeps an entry for the longest token lifetime plus the skew after its instants, whatever tokens were seen', () => {
    const revocations = new Revocations({ maxTokenLifetimeMs: 3_600_000, clockSkewMs: 30_000 });
    revocations.apply(userRevocation('u1', 10_000_000));
    expect(revocations.keepUntil({ revokedAt: 10_000_000, calledAt: 10_000_000 })).toBe(10_000_000 + 30_000 + 3_600_000);
    revocations.sweep(10_000_000 + 3_629_999);
    expect(revocations.size).toBe(1);
    revocations.sweep(10_000_000 + 3_630_000);
    expect(revocations.size).toBe(0);
    expect(revocations.keepMs).toBe(3_600_000 + 60_000);
  });
});
