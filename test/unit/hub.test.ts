import { describe, expect, it } from 'vitest';
import { Hub } from '../../src/gateway/hub.js';
import { fakeSocket } from './fake-socket.js';

describe('Hub', () => {
  it('indexes sockets by session and user and returns the socket a session replaces', () => {
    const hub = new Hub();
    const a = fakeSocket('u1', 's1');
    const b = fakeSocket('u1', 's2');
    expect(hub.add(a)).toBeUndefined();
    expect(hub.add(b)).toBeUndefined();
    expect(hub.socketCount('u1')).toBe(2);
    expect(hub.user('u1')?.topic).toBe('u:u1');
    const a2 = fakeSocket('u1', 's1');
    expect(hub.add(a2)).toBe(a);
    expect(hub.session('u1', 's1')).toBe(a2);
    expect(hub.socketCount('u1')).toBe(2);
  });

  it('keeps sessions apart by user: the same session id of two users is two sessions', () => {
    const hub = new Hub();
    const alice = fakeSocket('alice', 's1');
    const bob = fakeSocket('bob', 's1');
    expect(hub.add(alice)).toBeUndefined();
    expect(hub.add(bob)).toBeUndefined();
    expect(hub.session('alice', 's1')).toBe(alice);
    expect(hub.session('bob', 's1')).toBe(bob);
    expect([...hub.sessionsWithId('s1')]).toEqual([alice, bob]);
    hub.remove(alice);
    expect([...hub.sessionsWithId('s1')]).toEqual([bob]);
    expect(hub.size).toBe(1);
  });

  it('is empty again once every socket is removed, whatever the order', () => {
    const hub = new Hub();
    const a = fakeSocket('u1', 's1');
    const a2 = fakeSocket('u1', 's1');
    hub.add(a);
    hub.add(a2);
    hub.remove(a); // the replaced socket's late close must not remove its successor
    expect(hub.session('u1', 's1')).toBe(a2);
    hub.remove(a2);
    expect(hub.size).toBe(0);
    expect(hub.userCount).toBe(0);
  });
});
