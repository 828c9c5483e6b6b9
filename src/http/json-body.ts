/** Refuses bytes that are not UTF-8 instead of replacing them with U+FFFD. */
const utf8 = new TextDecoder('utf-8', { fatal: true });
/** A piece keeps a leading byte order mark: only the body's first bytes may drop one. */
const utf8Piece = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * V8's largest regular heap object is 128 KiB on 64-bit. A longer string goes to the
 * large-object space, whose every allocation maps fresh pages: decoding a 130 KiB body on
 * Node costs ~60 × a 120 KiB one (bench/results/node-http.md). Bun has no such cliff, and
 * pays a little for the pieces: only a body past the cliff is cut, into pieces well below it.
 */
const WHOLE_BODY_BYTES = 120 * 1024;
const PIECE_BYTES = 96 * 1024;

/** The `pieceBytes` for checkBodyNesting: pieces for a body whose text would not fit a regular heap object. */
export function pieceBytesFor(body: Uint8Array): number {
  return body.length > WHOLE_BODY_BYTES ? PIECE_BYTES : Infinity;
}

export type JsonBody = { ok: true; value: unknown } | { ok: false; problem: 'not_utf8' } | { ok: false; problem: 'not_json'; message: string };

/**
 * A request body as JSON.parse reads its UTF-8 text. `cuts` are offsets of commas between a
 * top-level array's elements (checkBodyNesting finds them): the array is then decoded and
 * parsed piece by piece, so that no string reaches the large-object space. Each piece parses
 * as `[piece]` with at least one element only if the whole parses, to the same elements;
 * when one does not, the whole body is read again for the error the client sees.
 */
export function parseJsonBody(bytes: Uint8Array, cuts: readonly number[]): JsonBody {
  if (cuts.length > 0) {
    const value = parsePieces(bytes, cuts);
    if (value) return { ok: true, value };
  }
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return { ok: false, problem: 'not_utf8' };
  }
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return { ok: false, problem: 'not_json', message: (error as Error).message };
  }
}

export function isUtf8(bytes: Uint8Array): boolean {
  try {
    utf8.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/** The array's elements, or undefined when some piece is not UTF-8 or not JSON. */
function parsePieces(bytes: Uint8Array, cuts: readonly number[]): unknown[] | undefined {
  const open = bytes.indexOf(OPEN_BRACKET);
  const close = bytes.lastIndexOf(CLOSE_BRACKET);
  // Only whitespace (and a byte order mark, which the decoder drops) may sit outside the brackets.
  if (open < 0 || close < cuts[cuts.length - 1]! || !blank(bytes, 0, open) || !blank(bytes, close + 1, bytes.length)) return undefined;
  const elements: unknown[] = [];
  let start = open + 1;
  try {
    for (let i = 0; i <= cuts.length; i++) {
      const stop = i < cuts.length ? cuts[i]! : close;
      const piece = JSON.parse(`[${utf8Piece.decode(bytes.subarray(start, stop))}]`) as unknown[];
      // An empty piece would hide a stray comma (`[1, ]`).
      if (piece.length === 0) return undefined;
      for (const element of piece) elements.push(element);
      start = stop + 1;
    }
  } catch {
    return undefined;
  }
  return elements;
}

function blank(bytes: Uint8Array, from: number, to: number): boolean {
  let i = from;
  if (i === 0 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) i = 3;
  for (; i < to; i++) {
    const c = bytes[i]!;
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return false;
  }
  return true;
}
