import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { IdString, MAX_ID_LENGTH, MAX_TARGET_USERS } from './event.js';

/**
 * Herald bus format, version 1 (docs/bus-format.md is the reference for other languages).
 *
 *   byte 0      0x48 ('H')
 *   byte 1      format version (1)
 *   byte 2      kind (MessageKind)
 *   bytes 3..6  header length N, unsigned 32-bit big-endian
 *   bytes 7..   header: N bytes of UTF-8 JSON (routing only)
 *   rest        payload: for an event, the client frame bytes, forwarded unchanged
 *
 * A pod parses the header only; it never parses the payload.
 */
export const BUS_MAGIC = 0x48;
export const BUS_VERSION = 1;
const PREAMBLE = 7;

export const MessageKind = {
  Event: 1,
  DisconnectUser: 2,
  DisconnectSession: 3,
  SessionOpened: 4,
  /** Several messages stored as one (one publish request); see encodeBundle. */
  Bundle: 5,
} as const;
export type MessageKind = (typeof MessageKind)[keyof typeof MessageKind];

/**
 * Ids in event headers are checked for length only: the full id rule (IdString) applies where
 * ids come in (publish, token claims, paths), and the router publishes only to users that hold
 * a socket here, whose ids passed it. Checking every target again on every pod would cost the
 * hot path; control messages are rare and are checked in full.
 */
const TargetId = Type.String({ minLength: 1, maxLength: MAX_ID_LENGTH });

export const EventHeader = Type.Object({
  targetUsers: Type.Array(TargetId, { minItems: 1, maxItems: MAX_TARGET_USERS }),
  fromSessionId: Type.Union([TargetId, Type.Null()]),
  inclusive: Type.Boolean(),
  /** Emit time, ms since the epoch: drives herald_delivery_seconds. */
  emittedAt: Type.Number(),
});
export type EventHeader = Static<typeof EventHeader>;

export const DisconnectUserHeader = Type.Object({
  userId: IdString,
  /** Tokens of this user with an `iat` earlier than this instant (ms) are revoked. */
  revokedAt: Type.Number(),
  /** When the call was made (ms, the emitting pod's clock): a token a pod saw by then is revoked whatever its `iat`. Default `revokedAt`. */
  calledAt: Type.Optional(Type.Number()),
});
export type DisconnectUserHeader = Static<typeof DisconnectUserHeader>;

export const DisconnectSessionHeader = Type.Object({
  sessionId: IdString,
  /** Whose session; absent: that session id of every user (and every message written before userId existed). */
  userId: Type.Optional(IdString),
  /** Tokens of the session with an `iat` earlier than this instant (ms) are revoked; absent: none by `iat`. */
  revokedAt: Type.Optional(Type.Number()),
  /** When the call was made (ms): a token of the session a pod saw by then is revoked. Default: when the message is read. */
  calledAt: Type.Optional(Type.Number()),
  /** Part of a user disconnect (a token ahead of the clock that a pod had seen): sockets close with 4003, not 1000. */
  user: Type.Optional(Type.Boolean()),
});
export type DisconnectSessionHeader = Static<typeof DisconnectSessionHeader>;

export const SessionOpenedHeader = Type.Object({
  sessionId: IdString,
  /** Whose session; absent in messages written before sessions were keyed by user: the session id alone. */
  userId: Type.Optional(IdString),
  /** Identifies the socket across pods; with openedAt it orders two sockets of one session. */
  socketKey: Type.String({ minLength: 1, maxLength: 256 }),
  openedAt: Type.Number(),
});
export type SessionOpenedHeader = Static<typeof SessionOpenedHeader>;

/** The header each kind carries: encodeBusMessage takes only the header that matches its kind. */
export interface HeaderOf {
  [MessageKind.Event]: EventHeader;
  [MessageKind.DisconnectUser]: DisconnectUserHeader;
  [MessageKind.DisconnectSession]: DisconnectSessionHeader;
  [MessageKind.SessionOpened]: SessionOpenedHeader;
  [MessageKind.Bundle]: BundleHeader;
}

/**
 * A message as the router reads it. An event's frame is a string when the message was made in
 * this process (the emitter's), bytes when it came off a broker.
 */
export type BusMessage =
  | {
      kind: typeof MessageKind.Event;
      header: EventHeader;
      frame: string | Uint8Array;
      /** The frame without its closing brace, when made in this process: a `seq` is appended to it without reading the frame. */
      frameOpen?: string;
    }
  | { kind: typeof MessageKind.DisconnectUser; header: DisconnectUserHeader }
  | { kind: typeof MessageKind.DisconnectSession; header: DisconnectSessionHeader }
  | { kind: typeof MessageKind.SessionOpened; header: SessionOpenedHeader }
  | { kind: typeof MessageKind.Bundle; header: BundleHeader; frame: Uint8Array };

/**
 * A message on its way to the bus: the local bus hands it to the router as it is; a broker bus
 * sends its bytes (`outgoingBytes`), encoded once and kept on it for whoever asks next (the
 * emitter's size check, then the bus).
 */
export type OutgoingMessage = Exclude<BusMessage, { kind: typeof MessageKind.Bundle }> & { bytes?: Uint8Array };

/**
 * An event on its way out, as the emitter makes it, from its frame without the closing brace.
 * `bytes` starts undefined so that every such object has one shape.
 */
export function outgoingEvent(header: EventHeader, frameOpen: string): OutgoingMessage {
  return { kind: MessageKind.Event, header, frame: frameOpen + '}', frameOpen, bytes: undefined };
}

/** A control message on its way out. */
export function outgoingControl<K extends ControlKind>(kind: K, header: HeaderOf[K]): OutgoingMessage {
  return { kind, header, bytes: undefined } as OutgoingMessage;
}

type ControlKind = typeof MessageKind.DisconnectUser | typeof MessageKind.DisconnectSession | typeof MessageKind.SessionOpened;

/** The message's bus format bytes, encoded on the first call only. */
export function outgoingBytes(msg: OutgoingMessage): Uint8Array {
  if (msg.bytes !== undefined) return msg.bytes;
  let bytes: Uint8Array;
  if (msg.kind !== MessageKind.Event) bytes = encodeBusMessage(msg.kind, msg.header as never);
  else if (typeof msg.frame === 'string') bytes = encodeEventMessage(msg.header, msg.frame);
  else bytes = encodeBusMessage(MessageKind.Event, msg.header, msg.frame);
  msg.bytes = bytes;
  return bytes;
}

export const BundleHeader = Type.Object({ count: Type.Integer({ minimum: 1, maximum: 1024 }) });
export type BundleHeader = Static<typeof BundleHeader>;

const headerValidators = {
  [MessageKind.Event]: TypeCompiler.Compile(EventHeader),
  [MessageKind.DisconnectUser]: TypeCompiler.Compile(DisconnectUserHeader),
  [MessageKind.DisconnectSession]: TypeCompiler.Compile(DisconnectSessionHeader),
  [MessageKind.SessionOpened]: TypeCompiler.Compile(SessionOpenedHeader),
  [MessageKind.Bundle]: TypeCompiler.Compile(BundleHeader),
} as const;

/** A bus message this pod cannot read: logged and counted, never fatal. */
export class BusFormatError extends Error {
  override readonly name = 'BusFormatError';
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Any kind of message; events on the publish path go through encodeEventMessage instead. */
export function encodeBusMessage<K extends MessageKind>(kind: K, header: HeaderOf[K], payload?: Uint8Array): Uint8Array {
  const headerBytes = encoder.encode(JSON.stringify(header));
  const out = new Uint8Array(PREAMBLE + headerBytes.length + (payload?.length ?? 0));
  out[0] = BUS_MAGIC;
  out[1] = BUS_VERSION;
  out[2] = kind;
  new DataView(out.buffer, out.byteOffset, out.byteLength).setUint32(3, headerBytes.length);
  out.set(headerBytes, PREAMBLE);
  if (payload) out.set(payload, PREAMBLE + headerBytes.length);
  return out;
}

/**
 * An event message from its header and its client frame as a string: one allocation, both
 * written straight into it (the publish hot path, once per event).
 */
export function encodeEventMessage(header: EventHeader, frame: string): Uint8Array {
  const headerJson =
    `{"targetUsers":${JSON.stringify(header.targetUsers)},"fromSessionId":${JSON.stringify(header.fromSessionId)},` +
    `"inclusive":${header.inclusive},"emittedAt":${header.emittedAt}}`;
  const headerLength = Buffer.byteLength(headerJson);
  const out = Buffer.allocUnsafe(PREAMBLE + headerLength + Buffer.byteLength(frame));
  out[0] = BUS_MAGIC;
  out[1] = BUS_VERSION;
  out[2] = MessageKind.Event;
  out.writeUInt32BE(headerLength, 3);
  out.write(headerJson, PREAMBLE, 'utf8');
  out.write(frame, PREAMBLE + headerLength, 'utf8');
  return out;
}

export function decodeBusMessage(msg: Uint8Array): BusMessage {
  if (msg.length < PREAMBLE || msg[0] !== BUS_MAGIC) throw new BusFormatError('not a Herald bus message');
  if (msg[1] !== BUS_VERSION) throw new BusFormatError(`unsupported bus format version ${msg[1]}`);
  const kind = msg[2] as MessageKind;
  const validator = headerValidators[kind];
  if (!validator) throw new BusFormatError(`unknown message kind ${kind}`);
  // By hand: `msg.buffer` would make the runtime materialise an ArrayBuffer per message.
  const headerLength = ((msg[3]! << 24) | (msg[4]! << 16) | (msg[5]! << 8) | msg[6]!) >>> 0;
  const headerEnd = PREAMBLE + headerLength;
  if (headerEnd > msg.length) throw new BusFormatError('header length past the end of the message');
  let header: unknown;
  try {
    header = JSON.parse(decoder.decode(msg.subarray(PREAMBLE, headerEnd)));
  } catch {
    throw new BusFormatError('header is not JSON');
  }
  if (!validator.Check(header)) {
    const first = validator.Errors(header).First();
    throw new BusFormatError(`bad ${kind} header at ${first?.path ?? '/'}: ${first?.message ?? 'invalid'}`);
  }
  if (kind === MessageKind.Event || kind === MessageKind.Bundle) {
    if (headerEnd === msg.length) throw new BusFormatError(`${kind === MessageKind.Event ? 'event' : 'bundle'} without a payload`);
    return { kind, header, frame: msg.subarray(headerEnd) } as BusMessage;
  }
  return { kind, header } as BusMessage;
}

/**
 * The most messages one bundle holds: an event's `seq` is its bundle's log position × 1024
 * plus its index in the bundle, so every event keeps an increasing integer of its own.
 */
export const MAX_BUNDLE_MESSAGES = 1024;

/**
 * Several messages as one (kind 5), so that one publish request is one stored message in the
 * event log. Payload: for each message a 32-bit big-endian length, then its bytes.
 */
export function encodeBundle(messages: readonly Uint8Array[]): Uint8Array {
  if (messages.length < 1 || messages.length > MAX_BUNDLE_MESSAGES) {
    throw new RangeError(`a bundle holds 1–${MAX_BUNDLE_MESSAGES} messages, not ${messages.length}`);
  }
  const headerJson = `{"count":${messages.length}}`;
  let size = PREAMBLE + headerJson.length;
  for (const msg of messages) size += 4 + msg.length;
  const out = Buffer.allocUnsafe(size);
  out[0] = BUS_MAGIC;
  out[1] = BUS_VERSION;
  out[2] = MessageKind.Bundle;
  out.writeUInt32BE(headerJson.length, 3);
  let at = PREAMBLE + out.write(headerJson, PREAMBLE, 'latin1');
  for (const msg of messages) {
    out.writeUInt32BE(msg.length, at);
    out.set(msg, at + 4);
    at += 4 + msg.length;
  }
  return out;
}

/** The bytes `encodeBundle` adds to its messages: what a bus counts against the broker's limit. */
export function bundleOverhead(count: number): number {
  return PREAMBLE + `{"count":${count}}`.length + 4 * count;
}

/**
 * Calls `each` with every message a stored message carries, in order, with its index: the
 * messages of a bundle, or the message itself at index 0. Views, not copies. Throws
 * BusFormatError for a bundle whose lengths do not add up (before calling `each` at all).
 */
export function forEachBundled(stored: Uint8Array, each: (msg: Uint8Array, index: number) => void): void {
  if (stored.length < PREAMBLE || stored[0] !== BUS_MAGIC || stored[2] !== MessageKind.Bundle) {
    each(stored, 0);
    return;
  }
  const decoded = decodeBusMessage(stored) as { header: BundleHeader; frame: Uint8Array };
  const payload = decoded.frame;
  const parts: Uint8Array[] = [];
  let at = 0;
  while (at < payload.length) {
    if (at + 4 > payload.length) throw new BusFormatError('bundle cut inside a length');
    const length = ((payload[at]! << 24) | (payload[at + 1]! << 16) | (payload[at + 2]! << 8) | payload[at + 3]!) >>> 0;
    if (at + 4 + length > payload.length) throw new BusFormatError('bundle message past the end');
    parts.push(payload.subarray(at + 4, at + 4 + length));
    at += 4 + length;
  }
  if (parts.length !== decoded.header.count) throw new BusFormatError(`bundle says ${decoded.header.count} messages, holds ${parts.length}`);
  for (let i = 0; i < parts.length; i++) each(parts[i]!, i);
}

/**
 * One request's messages as the stored messages of an event log: one bundle when they fit
 * (the usual case), else as few bundles as `maxBytes` allows, in order. A single message is
 * stored as itself.
 */
export function packBundles(messages: readonly Uint8Array[], maxBytes = Number.POSITIVE_INFINITY): Uint8Array[] {
  if (messages.length === 1) return [messages[0]!];
  const stored: Uint8Array[] = [];
  let start = 0;
  let size = 0;
  for (let i = 0; i < messages.length; i++) {
    const count = i - start + 1;
    const next = size + messages[i]!.length;
    if (count > 1 && (count > MAX_BUNDLE_MESSAGES || next + bundleOverhead(count) > maxBytes)) {
      stored.push(pack(messages, start, i));
      start = i;
      size = messages[i]!.length;
    } else size = next;
  }
  stored.push(pack(messages, start, messages.length));
  return stored;
}

function pack(messages: readonly Uint8Array[], from: number, to: number): Uint8Array {
  return to - from === 1 ? messages[from]! : encodeBundle(messages.slice(from, to));
}
