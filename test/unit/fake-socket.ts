import type { Socket } from '../../src/gateway/socket-state.js';

export type FakeSocket = Socket & { endedWith: number | undefined };

/** A socket with no wire behind it, for unit tests of the hub and the router: it records its close. */
export function fakeSocket(userId: string, sessionId: string): FakeSocket {
  const socket: FakeSocket = {
    data: { userId, sessionId, iat: 0, seenAt: 0, exp: 0, expiryBucket: 0, expiryIndex: 0, socketKey: `${sessionId}-k`, openedAt: 0, announced: false, resume: undefined, framesFullAt: 0 },
    closed: false,
    endedWith: undefined,
    send: () => 'sent',
    sendFrame: () => 'sent',
    subscribe: () => {},
    bufferedAmount: () => 0,
    end: ({ code }) => {
      if (socket.closed) return;
      (socket as { closed: boolean }).closed = true;
      socket.endedWith = code;
    },
  };
  return socket;
}
