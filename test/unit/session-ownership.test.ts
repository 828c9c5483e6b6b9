import { describe, expect, it } from 'vitest';
import { Hub } from '../../src/gateway/hub.js';
import { SessionOwnership } from '../../src/gateway/session-ownership.js';
import { fakeSocket } from './fake-socket.js';

describe('SessionOwnership without a log', () => {
  it('remembers nothing for the echo of a socket it holds, so a newer socket of that session opened in the same millisecond keeps its place', () => {
    const hub = new Hub();
    const sessions = new SessionOwnership(hub);
    const first = fakeSocket('u1', 's1');
    first.data.socketKey = 'pod:9';
    first.data.openedAt = 1_000;
    hub.add(first);
    sessions.announced({ sessionId: 's1', userId: 'u1', socketKey: 'pod:9', openedAt: 1_000 }, 0);
    expect(first.data.announced).toBe(true);
    expect(sessions.remembered).toBe(0);

    // Same pod, same millisecond: 'pod:10' sorts before 'pod:9', yet it is the newer socket.
    const second = fakeSocket('u1', 's1');
    second.data.socketKey = 'pod:10';
    second.data.openedAt = 1_000;
    expect(hub.add(second)).toBe(first);
    expect(sessions.loses(second.data)).toBe(false);
  });

  it('remembers a claim for a session it holds no socket of, until the sweep', () => {
    const hub = new Hub();
    const sessions = new SessionOwnership(hub);
    sessions.announced({ sessionId: 's1', userId: 'u1', socketKey: 'other:1', openedAt: 2_000 }, 0, 0);
    expect(sessions.remembered).toBe(1);
    sessions.sweep(60_000);
    expect(sessions.remembered).toBe(0);
  });
});
