import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Hub, userTopic } from '../../src/gateway/hub.js';
import { isValidId, MAX_ID_LENGTH, publishEventValidator } from '../../src/protocol/event.js';
import { fakeSocket } from './fake-socket.js';

/** Code units that make look-alikes: lone halves of surrogate pairs, U+FFFD, a pair, controls. */
const UNITS = ['a', 'x', '\ud800', '\udbff', '\udc00', '\udfff', '\ud83d', '\ude00', '\ufffd', '\u0000', '\u001f', '\u007f', '\u0085', '\u009f', 'é', ' '];
const lookAlike = fc.array(fc.constantFrom(...UNITS), { minLength: 0, maxLength: 8 }).map((units) => units.join(''));
const anyId = fc.oneof(lookAlike, fc.string({ unit: 'binary', maxLength: 140 }), fc.string({ unit: 'grapheme', maxLength: 140 }));

/** The rule, said another way: every code point scalar (no lone surrogate), none of category Cc. */
function oracle(id: string): boolean {
  if (id.length < 1 || id.length > MAX_ID_LENGTH) return false;
  for (const char of id) {
    const cp = char.codePointAt(0)!;
    if (cp >= 0xd800 && cp <= 0xdfff) return false;
    if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) return false;
  }
  return true;
}

/** What uWebSockets sees of a topic: its UTF-8 bytes (a lone surrogate becomes U+FFFD). */
const topicBytes = (id: string) => Buffer.from(userTopic(id), 'utf8').toString('hex');

describe('ids', () => {
  it('ill-formed look-alikes would share a topic: "\\ud800x", "\\udc00x" and "\\ufffdx" are the same UTF-8', () => {
    expect(topicBytes('\ud800x')).toBe(topicBytes('\ufffdx'));
    expect(topicBytes('\udc00x')).toBe(topicBytes('\ufffdx'));
    expect([isValidId('\ud800x'), isValidId('\udc00x'), isValidId('\ufffdx')]).toEqual([false, false, true]);
  });

  it('an id is valid exactly when it is well-formed, without control characters, 1–128 code units; the publish schema agrees', () => {
    fc.assert(
      fc.property(anyId, (id) => {
        expect(isValidId(id)).toBe(oracle(id));
        const published = publishEventValidator.Check({ type: 'T', content: null, targetUsers: [id] });
        expect(published).toBe(oracle(id));
      }),
      { numRuns: 5_000 },
    );
  });

  it('two different valid ids never share a topic or a hub entry', () => {
    fc.assert(
      fc.property(anyId, anyId, (a, b) => {
        fc.pre(a !== b && isValidId(a) && isValidId(b));
        expect(topicBytes(a)).not.toBe(topicBytes(b));
        const hub = new Hub();
        hub.add(fakeSocket(a, 'sa'));
        hub.add(fakeSocket(b, 'sb'));
        expect(hub.userCount).toBe(2);
        expect(hub.user(a)).not.toBe(hub.user(b));
        expect(hub.user(a)?.sockets.size).toBe(1);
      }),
      { numRuns: 5_000 },
    );
  });

  it('a session belongs to its user: two different valid (user, session) pairs never share a hub entry', () => {
    fc.assert(
      fc.property(anyId, anyId, anyId, (a, b, session) => {
        fc.pre(a !== b && isValidId(a) && isValidId(b) && isValidId(session));
        const hub = new Hub();
        const sockets = [fakeSocket(a, session), fakeSocket(b, session), fakeSocket(a, `${session}2`)];
        for (const socket of sockets) expect(hub.add(socket)).toBeUndefined();
        expect(hub.size).toBe(3);
        expect([hub.session(a, session), hub.session(b, session), hub.session(a, `${session}2`)]).toEqual(sockets);
      }),
      { numRuns: 2_000 },
    );
  });
});
