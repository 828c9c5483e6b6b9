import { describe, expect, it } from 'vitest';
import { Revocations } from '../../src/auth/revocations.js';
import { TokenVerifier } from '../../src/auth/token-verifier.js';
import { createVerificationKey, type VerificationKey } from '../../src/auth/verification-key.js';
import { createClientFrameHandler } from '../../src/gateway/client-frame-handler.js';
import type { Socket } from '../../src/gateway/socket-state.js';
import { MAX_CLIENT_FRAME_BYTES } from '../../src/protocol/client-frames.js';
import type { Disconnect } from '../../src/protocol/close-codes.js';
import { fakeSocket } from './fake-socket.js';
import { mintUnitToken, nowS } from './unit-tokens.js';

const SECRET = 'client-frame-unit-secret-0123456789abcdef';
const mint = (claims: Record<string, unknown>, secret = SECRET) => mintUnitToken(claims, secret);

/** A socket that records what is sent, how it was ended, and anything done to it after it closed. */
type RecordingSocket = Socket & {
  sent: string[];
  ends: Disconnect[];
  /** Calls made once the socket was closed: must stay empty. */
  afterClose: string[];
  /** The peer closes: the engine marks the socket closed, no `end` call. */
  peerClose(): void;
};

function recordingSocket(userId = 'u1', sessionId = 's1'): RecordingSocket {
  const socket: RecordingSocket = {
    data: { userId, sessionId, iat: 0, seenAt: 0, exp: 0, expiryBucket: 0, expiryIndex: 0, socketKey: `${sessionId}-k`, openedAt: 0, announced: false, resume: undefined, framesFullAt: 0 },
    closed: false,
    sent: [],
    ends: [],
    afterClose: [],
    send(frame) {
      if (socket.closed) socket.afterClose.push(`send ${frame}`);
      else socket.sent.push(frame);
      return 'sent';
    },
    sendFrame(frame) {
      return socket.send(frame as string);
    },
    subscribe(topic) {
      if (socket.closed) socket.afterClose.push(`subscribe ${topic}`);
    },
    bufferedAmount() {
      if (socket.closed) socket.afterClose.push('bufferedAmount');
      return 0;
    },
    end(disconnect) {
      if (socket.closed) {
        socket.afterClose.push(`end ${disconnect.code}`);
        return;
      }
      (socket as { closed: boolean }).closed = true;
      socket.ends.push(disconnect);
    },
    peerClose() {
      (socket as { closed: boolean }).closed = true;
    },
  };
  return socket;
}

/** A handler over a real verifier; `settled()` waits until every refresh it started has finished. */
function setup(key: VerificationKey = createVerificationKey({ kind: 'secret', secret: SECRET })) {
  const verifier = new TokenVerifier(key, new Revocations());
  const verifications: Promise<unknown>[] = [];
  const verify = verifier.verify.bind(verifier);
  verifier.verify = (token, nowMs) => {
    const result = verify(token, nowMs);
    verifications.push(result.catch(() => undefined));
    return result;
  };
  const refreshed: { socket: Socket; exp: number }[] = [];
  const onFrame = createClientFrameHandler({
    verifier,
    // Far above what these tests send: the rate limit has its own cases (test/e2e/robustness.case.ts).
    maxFramesPerS: 10_000,
    refreshToken: (socket, { exp }) => refreshed.push({ socket, exp }),
  });
  const settled = async () => {
    await Promise.all(verifications);
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { onFrame, refreshed, settled, verifications };
}

const text = (value: unknown) => JSON.stringify(value);

/** A `herald.ping` frame of exactly `bytes` UTF-8 bytes, padded with two-byte characters. */
function pingOfBytes(bytes: number): string {
  const head = '{"type":"herald.ping","pad":"';
  const tail = '"}';
  const room = bytes - Buffer.byteLength(head + tail);
  const frame = head + 'é'.repeat(Math.floor(room / 2)) + 'a'.repeat(room % 2) + tail;
  expect(Buffer.byteLength(frame)).toBe(bytes);
  return frame;
}

describe('client frame handler', () => {
  it('answers herald.ping with a herald.pong carrying a numeric ts, and keeps the socket open', () => {
    const { onFrame } = setup();
    const socket = recordingSocket();
    const before = Date.now();
    onFrame(socket, text({ type: 'herald.ping' }), false);
    expect(socket.sent).toHaveLength(1);
    const pong = JSON.parse(socket.sent[0]!) as { type: string; ts: number };
    expect(Object.keys(pong).sort()).toEqual(['ts', 'type']);
    expect(pong.type).toBe('herald.pong');
    expect(Number.isInteger(pong.ts)).toBe(true);
    expect(pong.ts).toBeGreaterThanOrEqual(before);
    expect(pong.ts).toBeLessThanOrEqual(Date.now());
    expect(socket.closed).toBe(false);
  });

  it('closes the socket with 1008 on a binary frame', () => {
    const { onFrame } = setup();
    const socket = recordingSocket();
    onFrame(socket, new TextEncoder().encode(text({ type: 'herald.ping' })), true);
    expect(socket.ends).toEqual([{ code: 1008, reason: 'binary frames are not accepted' }]);
    expect(socket.sent).toEqual([]);
  });

  it('closes the socket with 1008 on a frame that is not JSON', () => {
    const { onFrame } = setup();
    const socket = recordingSocket();
    onFrame(socket, '{"type":"herald.ping"', false);
    expect(socket.ends).toEqual([{ code: 1008, reason: 'frame is not JSON' }]);
  });

  it('closes the socket with 1008 and a reason naming an unknown frame type', () => {
    const { onFrame } = setup();
    const socket = recordingSocket();
    onFrame(socket, text({ type: 'SUBSCRIBE' }), false);
    expect(socket.ends).toEqual([{ code: 1008, reason: 'unknown frame type SUBSCRIBE' }]);
  });

  it('closes the socket with 1008 on a herald.auth frame without a token', () => {
    const { onFrame } = setup();
    const socket = recordingSocket();
    onFrame(socket, text({ type: 'herald.auth' }), false);
    expect(socket.ends).toHaveLength(1);
    expect(socket.ends[0]!.code).toBe(1008);
    expect(socket.ends[0]!.reason).toMatch(/^malformed frame/);
  });

  it('closes the socket with 1008 on a herald.auth frame with an empty token', () => {
    const { onFrame } = setup();
    const socket = recordingSocket();
    onFrame(socket, text({ type: 'herald.auth', token: '' }), false);
    expect(socket.ends.map((d) => d.code)).toEqual([1008]);
  });

  it('closes the socket with 1008 on JSON that is not an object with a type', () => {
    const { onFrame } = setup();
    for (const frame of ['null', '42', '[]', '{}', text({ type: 7 })]) {
      const socket = recordingSocket();
      onFrame(socket, frame, false);
      expect(socket.ends.map((d) => d.code), frame).toEqual([1008]);
    }
  });

  it('closes the socket with 1009 and a reason on a frame over 16 KiB counted in UTF-8 bytes', () => {
    const { onFrame } = setup();
    const socket = recordingSocket();
    const frame = pingOfBytes(MAX_CLIENT_FRAME_BYTES + 1);
    // Fewer UTF-16 units than the limit: only a byte count sees that it is over.
    expect(frame.length).toBeLessThan(MAX_CLIENT_FRAME_BYTES);
    onFrame(socket, frame, false);
    expect(socket.ends).toEqual([{ code: 1009, reason: `client frames are limited to ${MAX_CLIENT_FRAME_BYTES} bytes` }]);
    expect(socket.sent).toEqual([]);
  });

  it('reads a frame of exactly 16 KiB', () => {
    const { onFrame } = setup();
    const socket = recordingSocket();
    onFrame(socket, pingOfBytes(MAX_CLIENT_FRAME_BYTES), false);
    expect(socket.ends).toEqual([]);
    expect(socket.sent).toHaveLength(1);
    expect(socket.sent[0]).toMatch(/^\{"type":"herald.pong","ts":\d+\}$/);
  });

  it('refreshes the expiry on a herald.auth for the same user and session, without closing', async () => {
    const { onFrame, refreshed, settled } = setup();
    const socket = recordingSocket('u1', 's1');
    const exp = nowS() + 7200;
    onFrame(socket, text({ type: 'herald.auth', token: await mint({ sub: 'u1', sid: 's1', exp }) }), false);
    await settled();
    expect(refreshed).toEqual([{ socket, exp }]);
    expect(socket.closed).toBe(false);
    expect(socket.ends).toEqual([]);
    expect(socket.sent).toEqual([]);
  });

  it('refuses a refresh with a token of another user with 4001', async () => {
    const { onFrame, refreshed, settled } = setup();
    const socket = recordingSocket('u1', 's1');
    onFrame(socket, text({ type: 'herald.auth', token: await mint({ sub: 'u2', sid: 's1' }) }), false);
    await settled();
    expect(socket.ends).toEqual([{ code: 4001, reason: 'refresh refused: the token is for another user or session' }]);
    expect(refreshed).toEqual([]);
  });

  it('refuses a refresh with a token of another session of the same user with 4001', async () => {
    const { onFrame, refreshed, settled } = setup();
    const socket = recordingSocket('u1', 's1');
    onFrame(socket, text({ type: 'herald.auth', token: await mint({ sub: 'u1', sid: 's2' }) }), false);
    await settled();
    expect(socket.ends.map((d) => d.code)).toEqual([4001]);
    expect(refreshed).toEqual([]);
  });

  it('refuses a refresh with an invalid token with 4001 and a reason starting "refresh refused"', async () => {
    const { onFrame, refreshed, settled } = setup();
    const socket = recordingSocket('u1', 's1');
    const forged = await mint({ sub: 'u1', sid: 's1' }, 'another-secret-another-secret-0123456789');
    onFrame(socket, text({ type: 'herald.auth', token: forged }), false);
    await settled();
    expect(socket.ends).toHaveLength(1);
    expect(socket.ends[0]!.code).toBe(4001);
    expect(socket.ends[0]!.reason).toMatch(/^refresh refused: /);
    expect(refreshed).toEqual([]);
  });

  it('refuses a refresh with an expired token with 4001', async () => {
    const { onFrame, refreshed, settled } = setup();
    const socket = recordingSocket('u1', 's1');
    const expired = await mint({ sub: 'u1', sid: 's1', iat: nowS() - 7200, exp: nowS() - 60 });
    onFrame(socket, text({ type: 'herald.auth', token: expired }), false);
    await settled();
    expect(socket.ends).toEqual([{ code: 4001, reason: 'refresh refused: the token has expired' }]);
    expect(refreshed).toEqual([]);
  });

  it('never touches a socket that closed while its refresh token was being verified', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const secretBytes = new TextEncoder().encode(SECRET);
    const { onFrame, refreshed, settled, verifications } = setup({
      key: async () => {
        await gate;
        return secretBytes;
      },
      algorithms: ['HS256'],
    });
    const valid = recordingSocket('u1', 's1');
    const otherIdentity = recordingSocket('u1', 's2');
    const invalid = recordingSocket('u1', 's3');
    onFrame(valid, text({ type: 'herald.auth', token: await mint({ sub: 'u1', sid: 's1' }) }), false);
    onFrame(otherIdentity, text({ type: 'herald.auth', token: await mint({ sub: 'u9', sid: 's9' }) }), false);
    onFrame(invalid, text({ type: 'herald.auth', token: await mint({ sub: 'u1', sid: 's3' }, 'wrong-secret-wrong-secret-0123456789') }), false);
    expect(verifications).toHaveLength(3);
    for (const socket of [valid, otherIdentity, invalid]) socket.peerClose();
    release();
    await settled();
    for (const socket of [valid, otherIdentity, invalid]) {
      expect(socket.afterClose).toEqual([]);
      expect(socket.ends).toEqual([]);
      expect(socket.sent).toEqual([]);
    }
    expect(refreshed).toEqual([]);
  });

  it('keeps the socket open when the signing keys cannot be fetched during a refresh', async () => {
    const { onFrame, refreshed, settled, verifications } = setup({
      key: async () => {
        throw new Error('connect ECONNREFUSED 127.0.0.1:443');
      },
      algorithms: ['HS256'],
    });
    const socket = recordingSocket('u1', 's1');
    onFrame(socket, text({ type: 'herald.auth', token: await mint({ sub: 'u1', sid: 's1' }) }), false);
    expect(verifications).toHaveLength(1);
    await expect(verifications[0]).resolves.toBeUndefined();
    await settled();
    expect(socket.closed).toBe(false);
    expect(socket.ends).toEqual([]);
    expect(refreshed).toEqual([]);
  });

  it('does nothing with a frame that reaches a socket already closed', async () => {
    const { onFrame, refreshed, settled, verifications } = setup();
    const frames: [string | Uint8Array, boolean][] = [
      [text({ type: 'herald.ping' }), false],
      [text({ type: 'herald.auth', token: await mint({ sub: 'u1', sid: 's1' }) }), false],
      [text({ type: 'nope' }), false],
      ['not json', false],
      [new Uint8Array([1, 2, 3]), true],
      [pingOfBytes(MAX_CLIENT_FRAME_BYTES + 1), false],
    ];
    for (const [message, isBinary] of frames) {
      const socket = recordingSocket('u1', 's1');
      socket.peerClose();
      onFrame(socket, message, isBinary);
      await settled();
      expect(socket.afterClose).toEqual([]);
      expect(socket.ends).toEqual([]);
    }
    expect(verifications).toHaveLength(0);
    expect(refreshed).toEqual([]);
  });

  it('works with the shared fake socket: a bad frame ends it with 1008', () => {
    const { onFrame } = setup();
    const socket = fakeSocket('u1', 's1');
    onFrame(socket, 'not json', false);
    expect(socket.endedWith).toBe(1008);
  });
});
