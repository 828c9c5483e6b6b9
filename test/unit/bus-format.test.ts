import { describe, expect, it } from 'vitest';
import {
  BusFormatError,
  decodeBusMessage,
  encodeBusMessage,
  encodeEventMessage,
  MessageKind,
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

  it('round-trips the control kinds', () => {
    const cases = [
      [MessageKind.DisconnectUser, { userId: 'u1', revokedAt: 5 }],
      [MessageKind.DisconnectSession, { sessionId: 's1' }],
      [MessageKind.SessionOpened, { sessionId: 's1', socketKey: 'pod:1', openedAt: 7 }],
    ] as const;
    for (const [kind, h] of cases) expect(decodeBusMessage(encodeBusMessage(kind, h))).toEqual({ kind, header: h });
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
