import { describe, expect, it } from 'vitest';
import {
  BusFormatError,
  decodeBusMessage,
  encodeBundle,
  encodeBusMessage,
  encodeEventMessage,
  forEachBundled,
  MessageKind,
  packBundles,
} from '../../src/protocol/bus-format.js';

const frameText = '{"type":"A","id":"1","content":{"x":"é ✓ 🚀"},"fromUserId":null,"ts":1}';
const frame = new TextEncoder().encode(frameText);
const header = { targetUsers: ['u1', 'u2'], fromSessionId: 's1', inclusive: false, emittedAt: 1732300000000 };

describe('bus format v1', () => {
  it('round-trips an event and hands back the frame bytes unchanged', () => {
    const msg = encodeEventMessage(header, frameText);
    expect([msg[0], msg[1], msg[2]]).toEqual([0x48, 1, MessageKind.Event]);
    const decoded = decodeBusMessage(msg);
    expect(decoded.kind).toBe(MessageKind.Event);
    expect(decoded.header).toEqual(header);
    if (decoded.kind !== MessageKind.Event) throw new Error('not an event');
    expect(Buffer.from(decoded.frame).equals(Buffer.from(frame))).toBe(true);
  });

  it('round-trips the control kinds, and still reads them as older pods wrote them (no userId, no instants)', () => {
    const cases = [
      [MessageKind.DisconnectUser, { userId: 'u1', revokedAt: 5, calledAt: 6 }],
      [MessageKind.DisconnectUser, { userId: 'u1', revokedAt: 5 }],
      [MessageKind.DisconnectSession, { sessionId: 's1', userId: 'u1', revokedAt: 5, calledAt: 6, user: true }],
      [MessageKind.DisconnectSession, { sessionId: 's1' }],
      [MessageKind.SessionOpened, { sessionId: 's1', userId: 'u1', socketKey: 'pod:1', openedAt: 7 }],
      [MessageKind.SessionOpened, { sessionId: 's1', socketKey: 'pod:1', openedAt: 7 }],
    ] as const;
    for (const [kind, h] of cases) expect(decodeBusMessage(encodeBusMessage(kind, h))).toEqual({ kind, header: h });
  });

  it('refuses control messages whose ids are not ids', () => {
    expect(() => decodeBusMessage(encodeBusMessage(MessageKind.DisconnectUser, { userId: '\ud800x', revokedAt: 5 }))).toThrow(BusFormatError);
    expect(() => decodeBusMessage(encodeBusMessage(MessageKind.DisconnectSession, { sessionId: 's', userId: 'a\u0000' }))).toThrow(BusFormatError);
  });

  it.each([
    ['a message without the magic byte', () => Uint8Array.from([0, 1, 1, 0, 0, 0, 0])],
    ['a future version', () => Uint8Array.from([0x48, 2, 1, 0, 0, 0, 2, 123, 125])],
    ['an unknown kind', () => encodeBusMessage(9 as never, {} as never)],
    ['a header length past the end', () => Uint8Array.from([0x48, 1, 1, 0, 0, 1, 0, 123])],
    ['a header that is not JSON', () => Uint8Array.from([0x48, 1, 3, 0, 0, 0, 1, 0x7b])],
    ['a header with a bad field', () => encodeBusMessage(MessageKind.Event, { ...header, targetUsers: [] }, frame)],
    ['an event without a frame', () => encodeBusMessage(MessageKind.Event, header)],
    ['a truncated message', () => Uint8Array.from([0x48, 1])],
  ])('refuses %s with BusFormatError', (_name, make) => {
    expect(() => decodeBusMessage(make())).toThrow(BusFormatError);
  });
});

describe('bundles (kind 5): one stored message for one request', () => {
  const messages = [1, 2, 3].map((n) => encodeEventMessage({ ...header, targetUsers: [`u${n}`] }, frameText));
  const unpack = (stored: Uint8Array) => {
    const out: [number, number[]][] = [];
    forEachBundled(stored, (msg, index) => out.push([index, [...msg]]));
    return out;
  };

  it('hands back every message of a bundle, unchanged, with its index', () => {
    expect(unpack(encodeBundle(messages))).toEqual(messages.map((m, i) => [i, [...m]]));
  });

  it('treats a plain message as a bundle of one at index 0', () => {
    expect(unpack(messages[0]!)).toEqual([[0, [...messages[0]!]]]);
  });

  it('packs a request into as few stored messages as the broker limit allows, in order', () => {
    expect(packBundles([messages[0]!])).toEqual([messages[0]]);
    expect(packBundles(messages)).toHaveLength(1);
    const tight = packBundles(messages, messages[0]!.length * 2);
    expect(tight.length).toBeGreaterThan(1);
    expect(tight.flatMap((stored) => unpack(stored).map(([, bytes]) => bytes))).toEqual(messages.map((m) => [...m]));
    for (const stored of tight) expect(stored.length).toBeLessThanOrEqual(messages[0]!.length * 2);
    expect(packBundles(Array.from({ length: 2_000 }, () => messages[0]!))).toHaveLength(2);
  });

  it('refuses a bundle whose lengths do not add up, before handing out any message', () => {
    const bundle = encodeBundle(messages);
    const seen: number[] = [];
    expect(() => forEachBundled(bundle.subarray(0, bundle.length - 3), (_, i) => seen.push(i))).toThrow(BusFormatError);
    expect(seen).toEqual([]);
  });
});
