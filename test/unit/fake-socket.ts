import type { Socket } from '../../src/gateway/socket-state.js';

/** A socket with no wire behind it, for unit tests of the hub and the router. */
export function fakeSocket(userId: string, sessionId: string): Socket {
  return {
    data: { userId, sessionId, exp: 0, expiryBucket: 0, socketKey: `${sessionId}-k`, openedAt: 0 },
    closed: false,
    send: () => 'sent',
    subscribe: () => {},
    bufferedAmount: () => 0,
    end: () => {},
  };
}
