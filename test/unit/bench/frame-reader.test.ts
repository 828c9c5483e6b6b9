import { describe, expect, it } from 'vitest';
import { buildBodies, GROUP_SIZE } from '../../../bench/lib/event-stream.js';
import { FrameReader, maskedFrame, Opcode, readTimestamp } from '../../../bench/lib/frame-reader.js';

/** A server frame (unmasked), as a WebSocket server writes it. */
function serverFrame(opcode: number, payload: Buffer): Buffer {
  const n = payload.length;
  const header = n < 126 ? Buffer.from([0x80 | opcode, n]) : n < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
  if (n >= 126 && n < 65536) {
    header[0] = 0x80 | opcode;
    header[1] = 126;
    header.writeUInt16BE(n, 2);
  } else if (n >= 65536) {
    header[0] = 0x80 | opcode;
    header[1] = 127;
    header.writeUInt32BE(0, 2);
    header.writeUInt32BE(n, 6);
  }
  return Buffer.concat([header, payload]);
}

function collect(wantAll: boolean) {
  const frames: { opcode: number; length: number; payload?: string }[] = [];
  const reader = new FrameReader(
    () => wantAll,
    (opcode, _fin, length, payload) => frames.push({ opcode, length, payload: payload?.toString() }),
  );
  return { frames, reader };
}

describe('the bench load generator reads frames from the byte stream', () => {
  const event = Buffer.from(`{"content":{"t":1234567,"pad":"${'x'.repeat(300)}"}}`);
  const stream = Buffer.concat([
    serverFrame(Opcode.Text, Buffer.from('{"type":"herald.welcome"}')),
    serverFrame(Opcode.Text, event),
    serverFrame(Opcode.Ping, Buffer.alloc(0)),
    serverFrame(Opcode.Binary, Buffer.alloc(70_000, 1)),
    serverFrame(Opcode.Close, Buffer.from([0x0f, 0xa8])),
  ]);

  it('counts every frame with its length whatever the chunk boundaries, one byte at a time included', () => {
    for (const chunkSize of [1, 2, 3, 7, 64, 1000, stream.length]) {
      const { frames, reader } = collect(false);
      for (let i = 0; i < stream.length; i += chunkSize) reader.push(stream.subarray(i, i + chunkSize));
      expect(frames.map((f) => [f.opcode, f.length])).toEqual([
        [Opcode.Text, 25],
        [Opcode.Text, event.length],
        [Opcode.Ping, 0],
        [Opcode.Binary, 70_000],
        [Opcode.Close, 2],
      ]);
      expect(frames.every((f) => f.payload === undefined)).toBe(true);
    }
  });

  it('hands back payloads only when asked, reassembled across chunks, and reads the send timestamp', () => {
    const { frames, reader } = collect(true);
    for (let i = 0; i < stream.length; i += 5) reader.push(stream.subarray(i, i + 5));
    expect(frames[0]!.payload).toBe('{"type":"herald.welcome"}');
    expect(readTimestamp(Buffer.from(frames[1]!.payload!))).toBe(1234567);
    expect(readTimestamp(Buffer.from('{"type":"x","ts":5}'))).toBe(-1);
  });

  it('masks client frames with a zero key, so the payload bytes stay readable', () => {
    const frame = maskedFrame(Opcode.Text, Buffer.from('40'));
    expect([...frame]).toEqual([0x81, 0x82, 0, 0, 0, 0, 0x34, 0x30]);
  });
});

describe('the bench event stream', () => {
  it('gives every user the same number of events and counts one delivery per target', () => {
    for (const targeting of ['single', 'group', 'all'] as const) {
      const bodies = buildBodies({ from: 0, to: 1000, targeting });
      const events = bodies.flatMap((b) => JSON.parse(new TextDecoder().decode(b.bytes)) as { targetUsers: string[] }[]);
      const perUser = new Map<string, number>();
      for (const e of events) for (const u of e.targetUsers) perUser.set(u, (perUser.get(u) ?? 0) + 1);
      expect(perUser.size).toBe(1000);
      expect(new Set(perUser.values())).toEqual(new Set([1]));
      expect(bodies.reduce((n, b) => n + b.deliveries, 0)).toBe(1000);
      expect(events.length).toBe(targeting === 'single' ? 1000 : targeting === 'group' ? 1000 / GROUP_SIZE : 1);
      for (const b of bodies) expect(b.bytes.length).toBeLessThan(1024 * 1024);
    }
  });
});
