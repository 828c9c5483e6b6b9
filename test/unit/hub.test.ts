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
    expect(hub.session('s1')).toBe(a2);
    expect(hub.socketCount('u1')).toBe(2);
  });

  it('is empty again once every socket is removed, whatever the order', () => {
    const hub = new Hub();
    const a = fakeSocket('u1', 's1');
    const a2 = fakeSocket('u1', 's1');
    hub.add(a);
    hub.add(a2);
    hub.remove(a); // the replaced socket's late close must not remove its successor
    expect(hub.session('s1')).toBe(a2);
    hub.remove(a2);
    expect(hub.size).toBe(0);
    expect(hub.userCount).toBe(0);
  });
});
