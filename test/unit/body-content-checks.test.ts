import { describe, expect, it } from 'vitest';
import { checkBodyNesting } from '../../src/protocol/body-nesting.js';
import { MAX_CONTENT_BYTES } from '../../src/protocol/event.js';
import { encodeEvents } from '../../src/protocol/event-encoder.js';
import { InvalidEventError } from '../../src/protocol/validation-error.js';

const problemsOf = (work: () => unknown) => {
  try {
    work();
  } catch (error) {
    if (error instanceof InvalidEventError) return error.details;
    throw error;
  }
  return [];
};
const encode = (content: unknown) => problemsOf(() => encodeEvents({ type: 'T', content, targetUsers: ['u'] }));
const nestedArrays = (depth: number): unknown => (depth === 0 ? 1 : [nestedArrays(depth - 1)]);
const serializedBytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value)).length;

describe('content checks in the encoder', () => {
  it('accepts content nested 64 deep and refuses 65 at /content', () => {
    expect(encode(nestedArrays(64))).toEqual([]);
    expect(encode(nestedArrays(65))).toEqual([{ path: '/content', message: expect.stringMatching(/64 deep/) }]);
  });

  it('refuses NaN and ±Infinity with the pointer to the number', () => {
    expect(encode({ a: [1, Number.NaN] })).toEqual([{ path: '/content/a/1', message: expect.stringMatching(/finite/) }]);
    expect(encode({ 'x/y~z': -Infinity })).toEqual([{ path: '/content/x~1y~0z', message: expect.stringMatching(/finite/) }]);
    expect(problemsOf(() => encodeEvents([{ type: 'T', content: 1, targetUsers: ['u'] }, { type: 'T', content: Infinity, targetUsers: ['u'] }]))).toEqual([
      { path: '/1/content', message: expect.stringMatching(/finite/) },
    ]);
  });

  it('never refuses content of exactly 64 KiB serialized, of any shape, and refuses one byte more', () => {
    const fits: unknown[] = [
      'x'.repeat(MAX_CONTENT_BYTES - 2),
      Array.from({ length: (MAX_CONTENT_BYTES - 2) / 2 }, () => 0),
      '€'.repeat((MAX_CONTENT_BYTES - 2) / 3),
    ];
    // An object of members "kNNNNN":0 padded to the exact size by its last string.
    const members: Record<string, unknown> = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`k${i}`, i]));
    members.pad = '';
    members.pad = 'p'.repeat(MAX_CONTENT_BYTES - serializedBytes(members));
    fits.push(members);
    for (const content of fits) {
      expect(serializedBytes(content)).toBeLessThanOrEqual(MAX_CONTENT_BYTES);
      expect(encode(content)).toEqual([]);
    }
    members.pad = `${members.pad as string}p`;
    expect(encode(members)).toEqual([{ path: '/content', message: expect.stringMatching(/over 65536 bytes/) }]);
    expect(encode(Array.from({ length: MAX_CONTENT_BYTES }, () => 0))).toEqual([
      { path: '/content', message: expect.stringMatching(/over 65536 bytes/) },
    ]);
  });
});

describe('checkBodyNesting', () => {
  const bytes = (text: string) => new TextEncoder().encode(text);
  const deep = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

  it('lets an event through with content 64 deep and refuses 65, naming the field', () => {
    expect(() => checkBodyNesting(bytes(`{"type":"T","content":${deep(64)}}`))).not.toThrow();
    expect(problemsOf(() => checkBodyNesting(bytes(`{"type":"T","content":${deep(65)}}`)))).toEqual([
      { path: '/content', message: expect.stringMatching(/64 deep/) },
    ]);
  });

  it('allows one more level for a batch and names the event by its index', () => {
    const body = `[{"content":1},{"a":"[[[[","content":${deep(64)}},{"type":"x","content":${deep(65)}}]`;
    expect(problemsOf(() => checkBodyNesting(bytes(body)))).toEqual([{ path: '/2/content', message: expect.stringMatching(/64 deep/) }]);
  });

  it('reads a batch behind a byte order mark as a batch', () => {
    const body = new Uint8Array([0xef, 0xbb, 0xbf, ...bytes(`[{"type":"T","content":${deep(64)}}]`)]);
    expect(() => checkBodyNesting(body)).not.toThrow();
  });

  it('skips brackets inside strings, escaped quotes included', () => {
    const body = `{"content":"\\"${'['.repeat(500)}","k\\"ey":${deep(3)}}`;
    expect(() => checkBodyNesting(bytes(body))).not.toThrow();
  });

  it('refuses unclosed deep bodies without parsing them', () => {
    expect(problemsOf(() => checkBodyNesting(bytes(`{"type":"T","content":${'['.repeat(100_000)}`)))[0]?.path).toBe('/content');
  });
});
