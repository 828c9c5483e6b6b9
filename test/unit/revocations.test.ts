import { describe, expect, it } from 'vitest';
import { Revocations } from '../../src/auth/revocations.js';

describe('Revocations', () => {
  it('refuses tokens issued before the revocation and accepts later ones', () => {
    const revocations = new Revocations();
    revocations.revoke('u1', 1_000_500);
    expect(revocations.isRevoked('u1', 999)).toBe(true);
    expect(revocations.isRevoked('u1', 1_000)).toBe(true); // iat 1000 s = 1 000 000 ms, earlier than 1 000 500
    expect(revocations.isRevoked('u1', 1_001)).toBe(false);
    expect(revocations.isRevoked('u2', 1)).toBe(false);
  });

  it('keeps the latest of two revocations', () => {
    const revocations = new Revocations();
    revocations.revoke('u1', 5_000_000);
    revocations.revoke('u1', 2_000_000);
    expect(revocations.isRevoked('u1', 4_000)).toBe(true);
  });

  it('drops an entry once the longest token lifetime seen has passed, and not before', () => {
    const revocations = new Revocations(1_000);
    revocations.noteTokenLifetime(0, 3_600); // a one-hour token was seen
    revocations.revoke('u1', 10_000_000);
    revocations.sweep(10_000_000 + 3_599_000);
    expect(revocations.size).toBe(1);
    revocations.sweep(10_000_000 + 3_600_000);
    expect(revocations.size).toBe(0);
    expect(revocations.keepMs).toBe(3_600_000);
  });
});
