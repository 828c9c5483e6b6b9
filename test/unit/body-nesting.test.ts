import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkBodyNesting } from '../../src/protocol/body-nesting.js';
import { MAX_CONTENT_DEPTH } from '../../src/protocol/event.js';
import { InvalidEventError } from '../../src/protocol/validation-error.js';

/** Levels of arrays and objects in a JSON value: a scalar is 0. */
function depthOf(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  const children = Array.isArray(value) ? value : Object.values(value);
  return 1 + Math.max(0, ...children.map(depthOf));
}

/** A value nested `levels` deep, with a string full of quotes and backslashes at the bottom. */
function nest(levels: number, bottom: string): unknown {
  let value: unknown = bottom;
  for (let i = 0; i < levels; i++) value = i % 2 === 0 ? [value] : { k: value };
  return value;
}

describe('checkBodyNesting', () => {
  const body = (content: unknown) => new TextEncoder().encode(JSON.stringify({ type: 't', content, targetUsers: ['u1'] }));

  it('refuses a body exactly when its content is nested deeper than an event allows, whatever its strings hold', () => {
    const awkward = fc.string({ unit: fc.constantFrom('"', '\\', '{', '[', ']', '}', 'x', 'é', ',') });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_CONTENT_DEPTH + 3 }), awkward, (levels, bottom) => {
        const content = nest(levels, bottom);
        const refused = (() => {
          try {
            checkBodyNesting(body(content));
            return false;
          } catch (error) {
            expect(error).toBeInstanceOf(InvalidEventError);
            return true;
          }
        })();
        expect(refused).toBe(depthOf(content) > MAX_CONTENT_DEPTH);
      }),
      { numRuns: 300 },
    );
  });

  it('reads strings ending in escaped backslashes as closed, and escaped quotes as inside', () => {
    const deep = nest(MAX_CONTENT_DEPTH + 1, 'x');
    // `\\` then the closing quote: the string ends there and the nesting after it counts.
    expect(() => checkBodyNesting(body({ a: 'ends in a backslash \\', b: deep }))).toThrow(InvalidEventError);
    // Brackets after an escaped quote are still inside the string.
    expect(() => checkBodyNesting(body({ a: 'quote \\" then [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[' }))).not.toThrow();
  });
});
