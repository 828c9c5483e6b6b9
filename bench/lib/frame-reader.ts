/** WebSocket opcodes (RFC 6455 §5.2). */
export const Opcode = { Continuation: 0, Text: 1, Binary: 2, Close: 8, Ping: 9, Pong: 10 } as const;

/** Whether the reader should keep a frame's payload; most frames are only counted and skipped. */
export type WantPayload = (opcode: number, length: number) => boolean;
/** A finished frame: `payload` only when WantPayload said yes. */
export type OnFrame = (opcode: number, fin: boolean, length: number, payload: Buffer | undefined) => void;

/**
 * Reads server-to-client WebSocket frames from a TCP byte stream by their 2–14 byte headers,
 * the way uWebSockets' own load tests count: no message object per frame, and the payload is
 * skipped unless it is asked for. Headers split across chunks are reassembled in a 14-byte buffer.
 */
export class FrameReader {
  private readonly header = Buffer.alloc(14);
  private headerHave = 0;
  private remaining = 0;
  private opcode = 0;
  private fin = false;
  private length = 0;
  private parts: Buffer[] | undefined;

  constructor(
    private readonly wantPayload: WantPayload,
    private readonly onFrame: OnFrame,
  ) {}

  push(chunk: Buffer): void {
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      if (this.remaining > 0) {
        const take = this.remaining < n - i ? this.remaining : n - i;
        if (this.parts) this.parts.push(chunk.subarray(i, i + take));
        i += take;
        this.remaining -= take;
        if (this.remaining === 0) this.finish();
        continue;
      }
      if (this.headerHave === 0 && n - i >= 2) {
        const b1 = chunk[i + 1]!;
        const len7 = b1 & 127;
        const need = (len7 < 126 ? 2 : len7 === 126 ? 4 : 10) + (b1 & 128 ? 4 : 0);
        if (n - i >= need) {
          const length =
            len7 < 126
              ? len7
              : len7 === 126
                ? (chunk[i + 2]! << 8) | chunk[i + 3]!
                : chunk.readUInt32BE(i + 2) * 2 ** 32 + chunk.readUInt32BE(i + 6);
          this.begin(chunk[i]!, length);
          i += need;
          continue;
        }
      }
      // Slow path: the header straddles two chunks.
      this.header[this.headerHave++] = chunk[i++]!;
      if (this.headerHave < 2) continue;
      const b1 = this.header[1]!;
      const len7 = b1 & 127;
      const need = (len7 < 126 ? 2 : len7 === 126 ? 4 : 10) + (b1 & 128 ? 4 : 0);
      if (this.headerHave < need) continue;
      const length =
        len7 < 126
          ? len7
          : len7 === 126
            ? this.header.readUInt16BE(2)
            : this.header.readUInt32BE(2) * 2 ** 32 + this.header.readUInt32BE(6);
      this.headerHave = 0;
      this.begin(this.header[0]!, length);
    }
  }

  private begin(b0: number, length: number): void {
    this.opcode = b0 & 15;
    this.fin = (b0 & 128) !== 0;
    this.length = length;
    this.parts = this.wantPayload(this.opcode, length) ? [] : undefined;
    if (length === 0) this.finish();
    else this.remaining = length;
  }

  private finish(): void {
    const parts = this.parts;
    this.parts = undefined;
    const payload = parts ? (parts.length === 1 ? parts[0]! : Buffer.concat(parts)) : undefined;
    this.onFrame(this.opcode, this.fin, this.length, payload);
  }
}

/** A client-to-server frame: clients must mask; an all-zero key keeps the payload bytes as they are. */
export function maskedFrame(opcode: number, payload: Buffer): Buffer {
  const length = payload.length;
  if (length > 125 && opcode >= 8) throw new RangeError('control frames carry at most 125 bytes');
  const headerLength = length < 126 ? 6 : length < 65536 ? 8 : 14;
  const out = Buffer.alloc(headerLength + length);
  out[0] = 0x80 | opcode;
  if (length < 126) {
    out[1] = 0x80 | length;
  } else if (length < 65536) {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(length, 2);
  } else {
    out[1] = 0x80 | 127;
    out.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    out.writeUInt32BE(length >>> 0, 6);
  }
  payload.copy(out, headerLength);
  return out;
}

const T_KEY = Buffer.from('"t":');

/** Reads the integer after the first `"t":` in a payload (the bench's send timestamp), or -1. */
export function readTimestamp(payload: Buffer): number {
  let at = payload.indexOf(T_KEY);
  if (at < 0) return -1;
  at += T_KEY.length;
  let value = 0;
  let digits = 0;
  for (; at < payload.length; at++) {
    const c = payload[at]!;
    if (c < 48 || c > 57) break;
    value = value * 10 + (c - 48);
    digits++;
  }
  return digits === 0 ? -1 : value;
}
