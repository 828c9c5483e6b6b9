import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { inflateSync } from 'node:zlib';

interface Pixels {
  width: number;
  height: number;
  channels: number;
  data: Buffer;
}

/** Decodes an 8-bit, non-interlaced RGB or RGBA PNG (what Chromium writes); undefined for anything else. */
function decodePng(png: Buffer): Pixels | undefined {
  if (png.length < 8 || png.readUInt32BE(0) !== 0x89504e47) return undefined;
  let offset = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const chunks: Buffer[] = [];
  while (offset + 8 <= png.length) {
    const length = png.readUInt32BE(offset);
    const type = png.toString('latin1', offset + 4, offset + 8);
    const body = png.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      const [depth, colorType, , , interlace] = [body[8], body[9], body[10], body[11], body[12]];
      channels = colorType === 6 ? 4 : colorType === 2 ? 3 : 0;
      if (depth !== 8 || channels === 0 || interlace !== 0) return undefined;
    } else if (type === 'IDAT') {
      chunks.push(body);
    }
    offset += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(chunks));
  const stride = width * channels;
  const data = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const left = x >= channels ? data[y * stride + x - channels]! : 0;
      const up = y > 0 ? data[(y - 1) * stride + x]! : 0;
      const upLeft = x >= channels && y > 0 ? data[(y - 1) * stride + x - channels]! : 0;
      let predictor = 0;
      if (filter === 1) predictor = left;
      else if (filter === 2) predictor = up;
      else if (filter === 3) predictor = (left + up) >> 1;
      else if (filter === 4) {
        const estimate = left + up - upLeft;
        const [a, b, c] = [Math.abs(estimate - left), Math.abs(estimate - up), Math.abs(estimate - upLeft)];
        predictor = a <= b && a <= c ? left : b <= c ? up : upLeft;
      }
      data[y * stride + x] = (line[x]! + predictor) & 0xff;
    }
  }
  return { width, height, channels, data };
}

/** True when two PNGs show the same picture, give or take `tolerance` per channel (anti-aliasing differs between runs). */
export function samePicture(a: Buffer, b: Buffer, tolerance = 2): boolean {
  const [x, y] = [decodePng(a), decodePng(b)];
  if (!x || !y || x.width !== y.width || x.height !== y.height || x.channels !== y.channels) return false;
  for (let i = 0; i < x.data.length; i++) if (Math.abs(x.data[i]! - y.data[i]!) > tolerance) return false;
  return true;
}

/**
 * Writes a screenshot unless the file there already shows the same picture: a test run leaves a
 * committed screenshot alone unless what it shows has changed.
 */
export function saveScreenshot(path: string, png: Buffer): 'written' | 'unchanged' {
  if (existsSync(path) && samePicture(readFileSync(path), png)) return 'unchanged';
  writeFileSync(path, png);
  return 'written';
}
