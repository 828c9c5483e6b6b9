import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';

/** Client → server frames. Anything that does not match closes the socket with 1008. */
export const PingFrame = Type.Object({ type: Type.Literal('herald.ping') });
export const AuthFrame = Type.Object({
  type: Type.Literal('herald.auth'),
  // No length cap of its own: the 16 KiB frame limit bounds it, and a long token gets 4001, not 1008.
  token: Type.String({ minLength: 1 }),
});
export const ClientFrame = Type.Union([PingFrame, AuthFrame]);
export type ClientFrame = Static<typeof ClientFrame>;

export const clientFrameValidator = TypeCompiler.Compile(ClientFrame);

/** The largest client frame the gateway reads; above it the socket closes with 1009. */
export const MAX_CLIENT_FRAME_BYTES = 16 * 1024;

/** Server → client control frames (`herald.*`), built by the functions at the end of this file. Event frames are serialized by event-encoder.ts. */
export const WelcomeFrame = Type.Object({
  type: Type.Literal('herald.welcome'),
  userId: Type.String(),
  sessionId: Type.String(),
  heartbeatMs: Type.Integer(),
});
export type WelcomeFrame = Static<typeof WelcomeFrame>;

export const PongFrame = Type.Object({ type: Type.Literal('herald.pong'), ts: Type.Integer() });
export type PongFrame = Static<typeof PongFrame>;

export const ReconnectFrame = Type.Object({ type: Type.Literal('herald.reconnect'), afterMs: Type.Integer() });
export type ReconnectFrame = Static<typeof ReconnectFrame>;

/** What a client receives for a published event; `targetUsers`, `fromSessionId` and `inclusive` never reach it. */
export const EventFrame = Type.Object({
  type: Type.String(),
  id: Type.String(),
  content: Type.Unknown(),
  fromUserId: Type.Union([Type.String(), Type.Null()]),
  ts: Type.Integer(),
});
export type EventFrame = Static<typeof EventFrame>;

export type ServerFrame = WelcomeFrame | PongFrame | ReconnectFrame | EventFrame;

/** The first frame of every socket, sent once its subscriptions are live. */
export function welcomeFrame(userId: string, sessionId: string, heartbeatMs: number): string {
  return JSON.stringify({ type: 'herald.welcome', userId, sessionId, heartbeatMs } satisfies WelcomeFrame);
}

export function pongFrame(ts: number): string {
  return `{"type":"herald.pong","ts":${ts}}`;
}

/** Asks the client to leave (a draining pod) and come back after `afterMs`. */
export function reconnectFrame(afterMs: number): string {
  return `{"type":"herald.reconnect","afterMs":${afterMs}}`;
}
