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
  /** The event log's name and the position the socket's subscriptions start after (§6), while recovery is on. */
  epoch: Type.Optional(Type.String()),
  seq: Type.Optional(Type.Integer()),
  /** On a resume (`since` given): whether events were lost, and how many missed events follow. */
  gap: Type.Optional(Type.Boolean()),
  replayed: Type.Optional(Type.Integer()),
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
  /** The event's position in the event log (§6), while recovery is on. */
  seq: Type.Optional(Type.Integer()),
});
export type EventFrame = Static<typeof EventFrame>;

export type ServerFrame = WelcomeFrame | PongFrame | ReconnectFrame | EventFrame;

/** The first frame of every socket, sent once its subscriptions are live. */
export function welcomeFrame(welcome: Omit<WelcomeFrame, 'type'>): string {
  return JSON.stringify({ type: 'herald.welcome', ...welcome } satisfies WelcomeFrame);
}

const SEQ_KEY = new TextEncoder().encode(',"seq":');
const CLOSING_BRACE = 0x7d;

/**
 * An event frame with its log position added as a last `"seq"` member: done by each pod once
 * per event (the publisher serialized the frame before the log gave it a position). A frame
 * that does not end with `}` is returned as it is.
 */
export function frameWithSeq<F extends string | Uint8Array>(frame: F, seq: number): F;
export function frameWithSeq(frame: string | Uint8Array, seq: number): string | Uint8Array {
  if (typeof frame === 'string') return stringFrameWithSeq(frame, seq);
  let end = frame.length;
  while (end > 0 && frame[end - 1]! <= 0x20) end--;
  if (end === 0 || frame[end - 1] !== CLOSING_BRACE) return frame;
  const digits = String(seq);
  const out = Buffer.allocUnsafe(end - 1 + SEQ_KEY.length + digits.length + 1);
  out.set(frame.subarray(0, end - 1), 0);
  out.set(SEQ_KEY, end - 1);
  out.write(digits, end - 1 + SEQ_KEY.length, 'latin1');
  out[out.length - 1] = CLOSING_BRACE;
  return out;
}

function stringFrameWithSeq(frame: string, seq: number): string {
  let end = frame.length;
  while (end > 0 && frame.charCodeAt(end - 1) <= 0x20) end--;
  if (end === 0 || frame.charCodeAt(end - 1) !== CLOSING_BRACE) return frame;
  return `${frame.slice(0, end - 1)},"seq":${seq}}`;
}

export function pongFrame(ts: number): string {
  return `{"type":"herald.pong","ts":${ts}}`;
}

/** Asks the client to leave (a draining pod) and come back after `afterMs`. */
export function reconnectFrame(afterMs: number): string {
  return `{"type":"herald.reconnect","afterMs":${afterMs}}`;
}
