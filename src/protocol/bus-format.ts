import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { IdString, MAX_TARGET_USERS } from './event.js';

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
} as const;
export type MessageKind = (typeof MessageKind)[keyof typeof MessageKind];

export const EventHeader = Type.Object({
  targetUsers: Type.Array(IdString, { minItems: 1, maxItems: MAX_TARGET_USERS }),
  fromSessionId: Type.Union([IdString, Type.Null()]),
  inclusive: Type.Boolean(),
  /** Emit time, ms since the epoch: drives herald_delivery_seconds. */
  emittedAt: Type.Number(),
});
export type EventHeader = Static<typeof EventHeader>;

export const DisconnectUserHeader = Type.Object({
  userId: IdString,
  /** Tokens of this user with an `iat` earlier than this instant (ms) are revoked. */
  revokedAt: Type.Number(),
});
export type DisconnectUserHeader = Static<typeof DisconnectUserHeader>;

export const DisconnectSessionHeader = Type.Object({ sessionId: IdString });
export type DisconnectSessionHeader = Static<typeof DisconnectSessionHeader>;

export const SessionOpenedHeader = Type.Object({
  sessionId: IdString,
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
}

export type BusMessage =
  | { kind: typeof MessageKind.Event; header: EventHeader; frame: Uint8Array }
  | { kind: typeof MessageKind.DisconnectUser; header: DisconnectUserHeader }
  | { kind: typeof MessageKind.DisconnectSession; header: DisconnectSessionHeader }
  | { kind: typeof MessageKind.SessionOpened; header: SessionOpenedHeader };

const headerValidators = {
  [MessageKind.Event]: TypeCompiler.Compile(EventHeader),
  [MessageKind.DisconnectUser]: TypeCompiler.Compile(DisconnectUserHeader),
  [MessageKind.DisconnectSession]: TypeCompiler.Compile(DisconnectSessionHeader),
  [MessageKind.SessionOpened]: TypeCompiler.Compile(SessionOpenedHeader),
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
  if (kind === MessageKind.Event) {
    if (headerEnd === msg.length) throw new BusFormatError('event without a frame');
    return { kind, header: header as EventHeader, frame: msg.subarray(headerEnd) };
  }
  return { kind, header } as BusMessage;
}
