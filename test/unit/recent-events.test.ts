import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RecentEvents, type RecentEvent } from '../../src/recovery/recent-events.js';

/** Kept frames come back as the text they were appended as. */
const decoder = new TextDecoder();
const text = (bytes: Uint8Array) => decoder.decode(bytes);

const USERS = ['u0', 'u1', 'u2', 'u3', 'u4'];
const SESSIONS = ['s0', 's1', null];

type Op =
  | { kind: 'append'; targets: string[]; skip: string | null; bytes: number; advanceMs: number; gap: number }
  | { kind: 'lookup'; user: string; session: string; back: number }
  | { kind: 'sweep'; advanceMs: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      targets: fc.uniqueArray(fc.constantFrom(...USERS), { minLength: 1, maxLength: 4 }),
      skip: fc.constantFrom(...SESSIONS),
      bytes: fc.integer({ min: 10, max: 400 }),
      advanceMs: fc.integer({ min: 0, max: 300 }),
      // Positions jump by a stored message at times (a bundle's other events, control messages).
      gap: fc.integer({ min: 1, max: 3 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('lookup' as const),
      user: fc.constantFrom(...USERS),
      session: fc.constantFrom('s0', 's1', 's2'),
      back: fc.integer({ min: 0, max: 40 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('sweep' as const), advanceMs: fc.integer({ min: 0, max: 3_000 }) }) },
);

/**
 * Model: every event ever appended. The index's answer to a lookup is either "incomplete" or
 * exactly the model's list; and it must be complete wherever the limits say the events are
 * still held (within the window and the newest ones within the byte budget).
 */
describe('recent events (the per-user recovery index)', () => {
  it('answers every resume exactly as the full history would, or says it is incomplete — never a partial replay', () => {
    fc.assert(
      fc.property(
        fc.array(op, { minLength: 1, maxLength: 300 }),
        fc.integer({ min: 500, max: 6_000 }),
        fc.integer({ min: 1_000, max: 10_000 }),
        (ops, maxBytes, windowMs) => {
          const index = new RecentEvents({ maxBytes, windowMs }, 0, text);
          const history: RecentEvent[] = [];
          let now = 1_000_000;
          let seq = 0;
          for (const o of ops) {
            if (o.kind === 'append') {
              now += o.advanceMs;
              seq += o.gap;
              const event: RecentEvent = {
                seq,
                frame: `f${seq}`,
                skipSessionId: o.skip,
                targetUsers: o.targets,
                bytes: o.bytes,
                atMs: now,
              };
              history.push(event);
              index.append(event);
            } else if (o.kind === 'sweep') {
              now += o.advanceMs;
              index.evict(now);
            } else {
              const since = Math.max(0, seq - o.back);
              const expected = history
                .filter((e) => e.seq > since && e.targetUsers.includes(o.user) && e.skipSessionId !== o.session)
                .map((e) => e.seq);
              const answer = index.lookup(o.user, o.session, since);
              if (answer.complete) expect(answer.events.map((e) => e.seq)).toEqual(expected);
              if (mustHoldAfter(history, now, maxBytes, windowMs) <= since) expect(answer.complete).toBe(true);
            }
          }
          // Bounded: what it holds fits the limit (but for one event larger than the limit itself).
          expect(index.bytes <= maxBytes || index.events <= 1).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('answers and evicts alike past many chunks of its queues (1,024 items a chunk)', () => {
    // 10 bytes an event, a budget of 30,000: the newest 3,000 of 5,000 stay.
    const index = new RecentEvents({ maxBytes: 30_000, windowMs: 1e9 }, 0, text);
    const history: RecentEvent[] = [];
    for (let seq = 1; seq <= 5_000; seq++) {
      const event: RecentEvent = {
        seq,
        frame: `f${seq}`,
        skipSessionId: seq % 7 === 0 ? 's1' : null,
        targetUsers: seq % 3 === 0 ? ['a', 'b'] : ['a'],
        bytes: 10,
        atMs: 0,
      };
      history.push(event);
      index.append(event);
    }
    expect({ events: index.events, coveredAfter: index.coveredAfter }).toEqual({ events: 3_000, coveredAfter: 2_000 });
    for (const since of [2_000, 2_047, 3_071, 3_072, 4_095, 4_096, 4_999, 5_000]) {
      for (const [user, session] of [['a', 's0'], ['b', 's1']] as const) {
        const expected = history
          .filter((e) => e.seq > since && e.targetUsers.includes(user) && e.skipSessionId !== session)
          .map((e) => e.seq);
        const answer = index.lookup(user, session, since);
        expect(answer.complete && answer.events.map((e) => e.seq)).toEqual(expected);
      }
    }
    expect(index.lookup('a', 's0', 1_999)).toEqual({ complete: false });
  });

  it('replays once and evicts cleanly an event that lists a target twice (a foreign publisher)', () => {
    const index = new RecentEvents({ maxBytes: 1_000_000, windowMs: 1_000 }, 0, text);
    index.append({ seq: 1, frame: 'x', skipSessionId: null, targetUsers: ['c', 'c', 'd'], bytes: 10, atMs: 0 });
    index.append({ seq: 2, frame: 'y', skipSessionId: null, targetUsers: ['c'], bytes: 10, atMs: 500 });
    const answer = index.lookup('c', 's', 0);
    expect(answer.complete && answer.events.map((e) => e.frame)).toEqual(['x', 'y']);
    index.evict(1_200);
    expect({ users: index.users, events: index.events }).toEqual({ users: 1, events: 1 });
    const after = index.lookup('c', 's', 1);
    expect(after.complete && after.events.map((e) => e.frame)).toEqual(['y']);
  });

  it('drops a user with nothing left, so the map does not grow with users who are gone', () => {
    const index = new RecentEvents({ maxBytes: 1_000_000, windowMs: 1_000 }, 0, text);
    for (let i = 1; i <= 1_000; i++) {
      index.append({ seq: i, frame: 'x', skipSessionId: null, targetUsers: [`user-${i}`], bytes: 10, atMs: 0 });
    }
    expect(index.users).toBe(1_000);
    index.evict(2_000);
    expect({ users: index.users, events: index.events, bytes: index.bytes }).toEqual({ users: 0, events: 0, bytes: 0 });
    expect(index.lookup('user-5', 's', 0)).toEqual({ complete: false });
  });

  it('gives back every frame exactly as appended: non-ASCII text, bytes from the bus, frames larger than a buffer of the arena', () => {
    const index = new RecentEvents({ maxBytes: 1e9, windowMs: 1e9 }, 0, text);
    const big = 'é'.repeat(700_000) + '😀'; // 1.4 MB of UTF-8: its own buffer.
    const frames: (string | Uint8Array)[] = ['{"a":"ünïcödé 😀"}', new TextEncoder().encode('{"from":"nats"}'), big, '{"after":"big"}'];
    // Enough 100 KB frames to fill several 1 MiB buffers, some ending in a buffer's tail.
    for (let i = 0; i < 40; i++) frames.push(`${i}:${'x'.repeat(100_000)}`);
    frames.forEach((frame, i) => index.append({ seq: i + 1, frame, skipSessionId: null, targetUsers: ['a'], bytes: 10, atMs: 0 }));
    const answer = index.lookup('a', 's', 0);
    const expected = frames.map((frame) => (typeof frame === 'string' ? frame : text(frame)));
    expect(answer.complete && answer.events.map((e) => e.frame)).toEqual(expected);
  });

  it('frees the frames it dropped: its buffers stay within the byte limit as events keep coming', () => {
    const maxBytes = 4 * 2 ** 20;
    const index = new RecentEvents({ maxBytes, windowMs: 1e9 }, 0, text);
    const frame = 'y'.repeat(10_000);
    for (let seq = 1; seq <= 5_000; seq++) {
      index.append({ seq, frame, skipSessionId: null, targetUsers: [`u${seq % 50}`], bytes: frame.length + 100, atMs: 0 });
    }
    expect(index.bytes).toBeLessThanOrEqual(maxBytes);
    // One buffer (1 MiB) over the limit at most: the one being written besides the oldest one partly dropped.
    expect(index.arenaBytes).toBeLessThanOrEqual(maxBytes + 2 ** 20);
    const last = index.lookup('u0', 's', 4_900);
    expect(last.complete && last.events.map((e) => e.seq)).toEqual([4_950, 5_000]);
  });

  it('prunes user logs at each sweep: a user whose events all aged out is forgotten, the others answer as before', () => {
    const index = new RecentEvents({ maxBytes: 1e9, windowMs: 1_000 }, 0, text);
    // 'old' gets events 1–3000 at t=0 only; 'both' gets every event, the later ones at t=900.
    for (let seq = 1; seq <= 6_000; seq++) {
      const late = seq > 3_000;
      index.append({ seq, frame: `f${seq}`, skipSessionId: null, targetUsers: late ? ['both'] : ['old', 'both'], bytes: 10, atMs: late ? 900 : 0 });
    }
    index.evict(1_500);
    expect({ users: index.users, events: index.events, coveredAfter: index.coveredAfter }).toEqual({ users: 1, events: 3_000, coveredAfter: 3_000 });
    expect(index.lookup('old', 's', 3_000)).toEqual({ complete: true, events: [] });
    const both = index.lookup('both', 's', 5_990);
    expect(both.complete && both.events.map((e) => e.frame)).toEqual(['f5991', 'f5992', 'f5993', 'f5994', 'f5995', 'f5996', 'f5997', 'f5998', 'f5999', 'f6000']);
    // Appends after the sweep go to the pruned log as before.
    index.append({ seq: 6_001, frame: 'f6001', skipSessionId: 's', targetUsers: ['both', 'old'], bytes: 10, atMs: 1_500 });
    expect(index.lookup('both', 's2', 6_000)).toMatchObject({ complete: true, events: [{ seq: 6_001, frame: 'f6001', skipSessionId: 's' }] });
    expect(index.lookup('old', 's', 6_000)).toEqual({ complete: true, events: [] });
    index.evict(3_000);
    expect({ users: index.users, events: index.events, bytes: index.bytes }).toEqual({ users: 0, events: 0, bytes: 0 });
  });
});

/**
 * The smallest `since` from which the index must answer completely: past the last event the
 * limits let it drop. Events inside the window whose bytes, counted from the newest, fit the
 * budget must still be there; everything older may be gone.
 */
function mustHoldAfter(history: RecentEvent[], now: number, maxBytes: number, windowMs: number): number {
  let bytes = 0;
  for (let i = history.length - 1; i >= 0; i--) {
    const event = history[i]!;
    bytes += event.bytes;
    // No eviction ran later than `now`, so an event inside the window at `now` was inside it then.
    if (bytes > maxBytes || event.atMs < now - windowMs) return event.seq;
  }
  return 0;
}
