import { describe, expect, it } from 'vitest';
import { eventId } from '../../src/protocol/event-id.js';

const UUIDV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('eventId', () => {
  it('is a UUIDv7 whose first 48 bits are the millisecond it was made in', () => {
    const at = Date.UTC(2026, 10, 30, 12, 0, 0, 123);
    const id = eventId(at);
    expect(id).toMatch(UUIDV7);
    expect(parseInt(id.slice(0, 8) + id.slice(9, 13), 16)).toBe(at);
  });

  it('sorts in the order made, within a millisecond and across them, and never repeats', () => {
    const start = Date.UTC(2026, 10, 30, 12, 0, 1);
    const ids: string[] = [];
    for (let ms = 0; ms < 20; ms++) for (let i = 0; i < 1_000; i++) ids.push(eventId(start + ms));
    expect(ids.every((id) => UUIDV7.test(id))).toBe(true);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('stays monotonic when the clock steps back', () => {
    const start = Date.UTC(2026, 10, 30, 12, 0, 2);
    const before = eventId(start);
    const after = eventId(start - 5_000);
    expect(after > before).toBe(true);
    expect(after.slice(0, 13)).toBe(before.slice(0, 13));
  });

  it('draws its counter start and random tail afresh each millisecond, so two pods do not share ids', () => {
    const start = Date.UTC(2030, 0, 1);
    const firstOfEach = Array.from({ length: 200 }, (_, n) => eventId(start + n).slice(14));
    expect(new Set(firstOfEach).size).toBe(200);
  });
});
