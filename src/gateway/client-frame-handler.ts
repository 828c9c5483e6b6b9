import type { TokenVerifier } from '../auth/token-verifier.js';
import { AuthError, KeysUnavailableError } from '../errors.js';
import { clientFrameValidator, MAX_CLIENT_FRAME_BYTES, pongFrame, type ClientFrame } from '../protocol/client-frames.js';
import { Disconnect } from '../protocol/close-codes.js';
import type { Socket } from './socket-state.js';

export interface ClientFrameDeps {
  verifier: TokenVerifier;
  /** HERALD_MAX_CLIENT_FRAMES_PER_S: frames a socket may send each second, any kind. */
  maxFramesPerS: number;
  /** After a successful `herald.auth`: the socket holds the new token (revocation checks, the expiry wheel). */
  refreshToken(socket: Socket, token: { iat: number; exp: number; seenAt: number }): void;
}

/** A socket may send a burst of this many seconds' worth of frames at once. */
const BURST_SECONDS = 2;

/**
 * Handles what a client sends: `herald.ping`, `herald.auth`; anything else closes the socket,
 * and so does a socket sending faster than its frame rate (1008).
 */
export function createClientFrameHandler(deps: ClientFrameDeps) {
  const frameIntervalMs = 1000 / deps.maxFramesPerS;
  const burstMs = BURST_SECONDS * 1000;
  const tooManyFrames = Disconnect.tooManyFrames(deps.maxFramesPerS);

  async function refresh(socket: Socket, token: string): Promise<void> {
    let identity;
    try {
      identity = await deps.verifier.verify(token);
    } catch (error) {
      // Keys unavailable says nothing about the token: the socket keeps its current one.
      if (socket.closed || error instanceof KeysUnavailableError) return;
      const reason = error instanceof AuthError ? error.message : 'token refresh failed';
      socket.end(Disconnect.refreshRefused(reason));
      return;
    }
    // The socket may have closed while the token was being verified: never touch it then.
    if (socket.closed) return;
    if (identity.userId !== socket.data.userId || identity.sessionId !== socket.data.sessionId) {
      socket.end(Disconnect.RefreshForOtherIdentity);
      return;
    }
    deps.refreshToken(socket, identity);
  }

  return function onClientFrame(socket: Socket, message: string | Uint8Array, isBinary: boolean): void {
    if (socket.closed) return;
    // A token bucket of 2 s of frames refilled continuously, kept as the instant it is full again.
    const now = performance.now();
    const fullAt = Math.max(socket.data.framesFullAt, now) + frameIntervalMs;
    if (fullAt - now > burstMs) {
      socket.end(tooManyFrames);
      return;
    }
    socket.data.framesFullAt = fullAt;
    if (isBinary || typeof message !== 'string') {
      socket.end(Disconnect.BinaryFrame);
      return;
    }
    if (message.length > MAX_CLIENT_FRAME_BYTES / 3 && Buffer.byteLength(message) > MAX_CLIENT_FRAME_BYTES) {
      socket.end(Disconnect.frameTooLarge(MAX_CLIENT_FRAME_BYTES));
      return;
    }
    let frame: unknown;
    try {
      frame = JSON.parse(message);
    } catch {
      socket.end(Disconnect.NotJson);
      return;
    }
    if (!clientFrameValidator.Check(frame)) {
      const type = (frame as { type?: unknown } | null)?.type;
      socket.end(
        typeof type === 'string' && type !== 'herald.ping' && type !== 'herald.auth'
          ? Disconnect.unknownFrameType(type)
          : Disconnect.MalformedFrame,
      );
      return;
    }
    const known = frame as ClientFrame;
    if (known.type === 'herald.ping') socket.send(pongFrame(Date.now()));
    else void refresh(socket, known.token);
  };
}
