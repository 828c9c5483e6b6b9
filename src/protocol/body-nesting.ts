import { MAX_CONTENT_DEPTH } from './event.js';
import { InvalidEventError } from './validation-error.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;

/**
 * Refuses a publish body nested deeper than an event allows, from its raw UTF-8 bytes and
 * before anything parses it: one pass over the bytes, counting brackets outside strings
 * (a byte of a multi-byte UTF-8 character is never an ASCII bracket or quote). The envelope
 * is one level for an event and two for a batch, so a body is refused exactly when some
 * value inside an event is nested more than MAX_CONTENT_DEPTH deep; the problem's path is
 * the event field that holds it (`/content`, `/3/content`). Broken JSON that stays within
 * the depth passes: JSON.parse reports it.
 *
 * With `pieceBytes`, the same pass returns where a batch may be cut into pieces of about that
 * size: the offsets of commas between the batch's events, at least `pieceBytes` apart (none
 * for a single event). The caller checks that each piece parses: on broken JSON a cut may sit
 * anywhere.
 */
export function checkBodyNesting(bytes: Uint8Array, pieceBytes = Infinity): number[] {
  const envelope = firstSignificant(bytes) === OPEN_BRACKET ? 2 : 1;
  const limit = MAX_CONTENT_DEPTH + envelope;
  const end = bytes.length;
  const cuts: number[] = [];
  // Below 1 for a single event: its commas are never cuts.
  const cutDepth = envelope - 1;
  let nextCut = pieceBytes;
  let depth = 0;
  for (let i = 0; i < end; i++) {
    const c = bytes[i]!;
    if (c === QUOTE) {
      // Skip the string with the runtime's native search (most of a body is strings).
      i = stringEnd(bytes, i, end);
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > limit) throw tooDeep(bytes, i, envelope);
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
    } else if (c === COMMA && i >= nextCut && depth === cutDepth) {
      cuts.push(i);
      nextCut = i + pieceBytes;
    }
  }
  return cuts;
}

/** The closing quote of the string opened at `open` (`end` if none): the first quote not escaped by an odd run of backslashes. */
function stringEnd(bytes: Uint8Array, open: number, end: number): number {
  let close = bytes.indexOf(QUOTE, open + 1);
  while (close !== -1) {
    let backslashes = 0;
    for (let k = close - 1; bytes[k] === BACKSLASH; k--) backslashes++;
    if (backslashes % 2 === 0) return close;
    close = bytes.indexOf(QUOTE, close + 1);
  }
  return end;
}

function firstSignificant(bytes: Uint8Array): number | undefined {
  // A UTF-8 byte order mark is dropped by the decoder before JSON.parse: skip it here too.
  const start = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  for (let i = start; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return c;
  }
  return undefined;
}

/** The error path only: a second pass up to `stop` that names the event field holding it. */
function tooDeep(bytes: Uint8Array, stop: number, envelope: number): InvalidEventError {
  // Per envelope level: the container kind, the array index or the last object key seen.
  const segments: string[] = [];
  const isArray: boolean[] = [];
  let expectKey = false;
  let depth = 0;
  for (let i = 0; i < stop; i++) {
    const c = bytes[i]!;
    if (c === QUOTE) {
      const start = i;
      for (i++; i < stop; i++) {
        const s = bytes[i]!;
        if (s === QUOTE) break;
        if (s === BACKSLASH) i++;
      }
      if (expectKey && depth <= envelope) segments[depth - 1] = decodeKey(bytes.subarray(start, i + 1));
      expectKey = false;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      depth++;
      if (depth <= envelope) {
        isArray[depth - 1] = c === OPEN_BRACKET;
        segments[depth - 1] = c === OPEN_BRACKET ? '0' : '';
        segments.length = depth;
      }
      expectKey = c === OPEN_BRACE;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
      expectKey = false;
    } else if (c === COMMA) {
      if (depth >= 1 && depth <= envelope && isArray[depth - 1]) segments[depth - 1] = String(Number(segments[depth - 1]) + 1);
      else expectKey = depth >= 1 && depth <= envelope;
    }
  }
  const path = segments.slice(0, envelope).map(escapePointer);
  const field = segments[envelope - 1];
  const message =
    field === 'content'
      ? `content must be nested at most ${MAX_CONTENT_DEPTH} deep`
      : `nested more than ${MAX_CONTENT_DEPTH} deep (an event's content may be nested ${MAX_CONTENT_DEPTH} deep)`;
  return new InvalidEventError([{ path: path.length > 0 ? `/${path.join('/')}` : '', message }]);
}

function decodeKey(quoted: Uint8Array): string {
  try {
    return String(JSON.parse(new TextDecoder().decode(quoted)));
  } catch {
    return '';
  }
}

function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}
