import { describe, expect, it } from 'vitest';
import { LogCursor } from '../../../src/client/log-cursor.js';

const welcome = (fields: { epoch?: string; seq?: number; gap?: boolean; replayed?: number }) => fields;

/** Feeds event seqs to the cursor; returns those it lets through to the app. */
function deliver(cursor: LogCursor, seqs: (number | undefined)[]): (number | undefined)[] {
  return seqs.filter((seq) => cursor.accept(seq));
}

describe('the client log cursor (since and dedupe)', () => {
  it('sends no since before the first welcome, then the welcome’s position, then the last event’s', () => {
    const cursor = new LogCursor();
    expect(cursor.since).toBeUndefined();
    expect(cursor.welcome(welcome({ epoch: 'e1', seq: 2048 }))).toBeUndefined();
    expect(cursor.since).toBe('e1:2048');
    expect(deliver(cursor, [3072, 4097])).toEqual([3072, 4097]);
    expect(cursor.since).toBe('e1:4097');
    expect(cursor.position).toEqual({ epoch: 'e1', seq: 4097 });
  });

  it('drops an event at or before the last delivered seq, and keeps order', () => {
    const cursor = new LogCursor();
    cursor.welcome(welcome({ epoch: 'e1', seq: 10 }));
    expect(deliver(cursor, [11, 11, 12, 9, 12, 10, 13])).toEqual([11, 12, 13]);
    expect(cursor.since).toBe('e1:13');
  });

  it('on a resume without gap, the replayed events are delivered, then the position moves to the welcome’s seq', () => {
    const cursor = new LogCursor();
    cursor.welcome(welcome({ epoch: 'e1', seq: 10 }));
    deliver(cursor, [11]);
    // Resume from e1:11; the new pod is at 40 and replays 2 events for this user.
    expect(cursor.welcome(welcome({ epoch: 'e1', seq: 40, gap: false, replayed: 2 }))).toBeUndefined();
    expect(cursor.since).toBe('e1:11');
    expect(deliver(cursor, [11, 20])).toEqual([20]);
    // The replay ends: nothing for this user up to 40, so a later resume starts there.
    expect(cursor.since).toBe('e1:40');
    expect(deliver(cursor, [41])).toEqual([41]);
  });

  it('a resume with nothing replayed moves the position to the welcome’s seq at once', () => {
    const cursor = new LogCursor();
    cursor.welcome(welcome({ epoch: 'e1', seq: 10 }));
    expect(cursor.welcome(welcome({ epoch: 'e1', seq: 30, gap: false, replayed: 0 }))).toBeUndefined();
    expect(cursor.since).toBe('e1:30');
  });

  it('gap:true in the same epoch is an incomplete log; the position restarts at the welcome', () => {
    const cursor = new LogCursor();
    cursor.welcome(welcome({ epoch: 'e1', seq: 10 }));
    expect(cursor.welcome(welcome({ epoch: 'e1', seq: 9000, gap: true, replayed: 0 }))).toEqual({
      epoch: 'e1',
      reason: 'incomplete',
      since: { epoch: 'e1', seq: 10 },
    });
    expect(cursor.since).toBe('e1:9000');
    expect(deliver(cursor, [9001])).toEqual([9001]);
  });

  it('another epoch is a gap (new_epoch); its smaller seqs are not taken for duplicates', () => {
    const cursor = new LogCursor();
    cursor.welcome(welcome({ epoch: 'e1', seq: 5000 }));
    expect(cursor.welcome(welcome({ epoch: 'e2', seq: 0, gap: true, replayed: 0 }))).toEqual({
      epoch: 'e2',
      reason: 'new_epoch',
      since: { epoch: 'e1', seq: 5000 },
    });
    expect(deliver(cursor, [1024, 2048])).toEqual([1024, 2048]);
    expect(cursor.since).toBe('e2:2048');
  });

  it('a server without a log: no since, every event delivered, and every reconnect is a gap (no_log)', () => {
    const cursor = new LogCursor();
    expect(cursor.welcome(welcome({}))).toBeUndefined();
    expect(cursor.since).toBeUndefined();
    expect(deliver(cursor, [undefined, undefined])).toEqual([undefined, undefined]);
    expect(cursor.welcome(welcome({}))).toEqual({ epoch: undefined, reason: 'no_log', since: undefined });
    expect(cursor.welcome(welcome({ gap: true, replayed: 0 }))).toEqual({ epoch: undefined, reason: 'no_log', since: undefined });
  });

  it('a log that went away (recovery turned off) is a gap, as is a log that appears when the client had no position', () => {
    const cursor = new LogCursor();
    cursor.welcome(welcome({ epoch: 'e1', seq: 10 }));
    expect(cursor.welcome(welcome({ gap: true, replayed: 0 }))).toEqual({
      epoch: undefined,
      reason: 'no_log',
      since: { epoch: 'e1', seq: 10 },
    });
    expect(cursor.since).toBeUndefined();
    expect(cursor.welcome(welcome({ epoch: 'e1', seq: 50 }))).toEqual({ epoch: 'e1', reason: 'no_log', since: undefined });
    expect(cursor.since).toBe('e1:50');
  });

  it('reset() starts afresh: no since, and the next welcome is a first one (no gap)', () => {
    const cursor = new LogCursor();
    cursor.welcome(welcome({ epoch: 'e1', seq: 10 }));
    cursor.reset();
    expect(cursor.since).toBeUndefined();
    expect(cursor.welcome(welcome({ epoch: 'e2', seq: 3 }))).toBeUndefined();
  });

  it('a server that ignores since (welcome without gap) is a gap: it replays nothing', () => {
    const cursor = new LogCursor();
    cursor.welcome(welcome({ epoch: 'e1', seq: 10 }));
    expect(cursor.welcome(welcome({ epoch: 'e1', seq: 20 }))).toMatchObject({ reason: 'incomplete' });
  });
});
