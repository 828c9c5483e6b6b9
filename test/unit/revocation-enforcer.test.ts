import { describe, expect, it } from 'vitest';
import { Revocations, type Revocation } from '../../src/auth/revocations.js';
import type { Identity } from '../../src/auth/token-verifier.js';
import { Hub } from '../../src/gateway/hub.js';
import { RevocationEnforcer } from '../../src/gateway/revocation-enforcer.js';
import { createLogger } from '../../src/log.js';
import { fakeSocket, type FakeSocket } from './fake-socket.js';

const CALL = 1_000_000_000_000;

function setup(options: { cached?: Identity[]; share?: (r: Revocation) => Promise<void> } = {}) {
  const hub = new Hub();
  const revocations = new Revocations();
  const shared: Revocation[] = [];
  let release!: () => void;
  const stored = new Promise<void>((resolve) => (release = resolve));
  new RevocationEnforcer({
    hub,
    revocations,
    cachedTokens: (userId) => (options.cached ?? []).filter((i) => userId === undefined || i.userId === userId),
    share:
      options.share ??
      (async (revocation) => {
        shared.push(revocation);
        await stored;
        revocations.apply(revocation);
      }),
    log: createLogger('silent'),
  });
  const socket = (userId: string, sessionId: string, iat: number, seenAt: number): FakeSocket => {
    const s = fakeSocket(userId, sessionId);
    Object.assign(s.data, { iat, seenAt });
    hub.add(s);
    return s;
  };
  return { hub, revocations, shared, release, socket };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('RevocationEnforcer', () => {
  it('closes at once the sockets a revocation covers by iat (4003 for a user, 1000 for a logout), and leaves later logins open', () => {
    const { revocations, socket } = setup();
    const old = socket('u1', 'a', CALL / 1000 - 60, CALL - 60_000);
    const fresh = socket('u1', 'b', CALL / 1000 + 5, CALL + 5_000);
    const other = socket('u2', 'a', CALL / 1000 - 60, CALL - 60_000);
    revocations.apply({ userId: 'u1', revokedAt: CALL, calledAt: CALL, user: true });
    expect([old.endedWith, fresh.endedWith, other.endedWith]).toEqual([4003, undefined, undefined]);
    revocations.apply({ userId: 'u2', sessionId: 'a', revokedAt: CALL, calledAt: CALL, user: false });
    expect(other.endedWith).toBe(1000);
  });

  it('shares a token it saw by the call whose iat is ahead, and closes its socket only once the share is stored', async () => {
    const { revocations, socket, shared, release } = setup();
    const ahead = socket('u1', 'a', CALL / 1000 + 20, CALL - 1_000);
    revocations.apply({ userId: 'u1', revokedAt: CALL, calledAt: CALL, user: true });
    expect(shared).toEqual([{ userId: 'u1', sessionId: 'a', revokedAt: CALL + 21_000, calledAt: CALL, user: true }]);
    await flush();
    expect(ahead.endedWith).toBeUndefined();
    release();
    await flush();
    expect(ahead.endedWith).toBe(4003);
    // The shared session revocation now covers that token by iat, on any pod that reads it.
    expect(revocations.check({ userId: 'u1', sessionId: 'a', iat: CALL / 1000 + 20, seenAt: Number.POSITIVE_INFINITY })).toBeDefined();
  });

  it('shares cached tokens seen by the call, not those seen after it, once per session (its latest iat)', () => {
    const identity = (sessionId: string, iat: number, seenAt: number): Identity => ({ userId: 'u1', sessionId, iat, exp: iat + 3600, seenAt });
    const { revocations, shared } = setup({
      cached: [identity('a', CALL / 1000 + 10, CALL - 5), identity('a', CALL / 1000 + 25, CALL - 1), identity('b', CALL / 1000 + 10, CALL + 1)],
    });
    revocations.apply({ userId: 'u1', revokedAt: CALL, calledAt: CALL, user: true });
    expect(shared.map((r) => [r.sessionId, r.revokedAt])).toEqual([['a', CALL + 26_000]]);
  });

  it('when the share cannot be stored, refuses the token on this pod and closes its socket all the same', async () => {
    const { revocations, socket } = setup({ share: () => Promise.reject(new Error('store down')) });
    const ahead = socket('u1', 'a', CALL / 1000 + 20, CALL - 1_000);
    revocations.apply({ sessionId: 'a', revokedAt: CALL, calledAt: CALL, user: false });
    await flush();
    expect(ahead.endedWith).toBe(1000);
    expect(revocations.check({ userId: 'u1', sessionId: 'a', iat: CALL / 1000 + 20, seenAt: Number.POSITIVE_INFINITY })).toBeDefined();
  });
});
