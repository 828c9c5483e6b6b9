/** Bytes per arena chunk: large, so that a kept frame is a few bytes in a buffer, never an object of its own. */
const CHUNK_BYTES = 1 << 20;
/** UTF-8 takes at most 3 bytes per UTF-16 unit. */
const MAX_UTF8_PER_UNIT = 3;

/**
 * Frames as UTF-8 bytes in large append-only buffers. A buffer holds no pointers, so the
 * collector neither traces nor copies what it keeps; a chunk is dropped whole once the oldest
 * frame still wanted is past it. `write` reports where the frame went in `chunk`, `offset` and
 * `length` (fields, not a result object: nothing is allocated per frame).
 */
export class FrameArena {
  private chunks: Buffer[] = [];
  /** The id of chunks[0]; ids only grow, so a frame's id stays valid while its chunk is held. */
  private firstId = 0;
  private used = CHUNK_BYTES;
  chunk = -1;
  offset = 0;
  length = 0;

  write(frame: string | Uint8Array): void {
    const room = this.chunks.length === 0 ? 0 : this.chunks[this.chunks.length - 1]!.length - this.used;
    if (typeof frame === 'string') {
      const fits = frame.length * MAX_UTF8_PER_UNIT <= room || Buffer.byteLength(frame) <= room;
      if (!fits) this.open(Buffer.byteLength(frame));
      const last = this.chunks[this.chunks.length - 1]!;
      this.length = last.write(frame, this.used);
    } else {
      if (frame.length > room) this.open(frame.length);
      this.chunks[this.chunks.length - 1]!.set(frame, this.used);
      this.length = frame.length;
    }
    this.chunk = this.firstId + this.chunks.length - 1;
    this.offset = this.used;
    this.used += this.length;
  }

  /** The frame's bytes, a view into its chunk (chunks are never written over). */
  read(chunk: number, offset: number, length: number): Uint8Array {
    return this.chunks[chunk - this.firstId]!.subarray(offset, offset + length);
  }

  /** Drops the chunks before `chunk` (every frame in them is gone), but never the one being written. */
  releaseBefore(chunk: number): void {
    const drop = Math.min(chunk - this.firstId, this.chunks.length - 1);
    if (drop <= 0) return;
    this.chunks.splice(0, drop);
    this.firstId += drop;
  }

  /** Bytes of the chunks held. */
  get capacity(): number {
    let total = 0;
    for (const chunk of this.chunks) total += chunk.length;
    return total;
  }

  private open(atLeast: number): void {
    this.chunks.push(Buffer.allocUnsafeSlow(Math.max(CHUNK_BYTES, atLeast)));
    this.used = 0;
  }
}
