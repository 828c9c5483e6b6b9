import { describe, expect, it } from 'vitest';
import { ExpiryWheel } from '../../src/gateway/expiry-wheel.js';

/** An item as a socket's state is: it carries its own place on the wheel. */
const item = (name: string) => ({ name, expiryBucket: 0, expiryIndex: 0 });
type Item = ReturnType<typeof item>;
const wheelAt = (now: number) => new ExpiryWheel<Item>((i) => i, now);
const names = (items: Item[]) => items.map((i) => i.name).sort();

describe('ExpiryWheel', () => {
  it('returns items once their second has come, each once', () => {
    const wheel = wheelAt(100);
    wheel.add(item('a'), 101);
    wheel.add(item('b'), 103);
    wheel.add(item('c'), 103);
    expect(wheel.takeExpired(100)).toEqual([]);
    expect(names(wheel.takeExpired(102))).toEqual(['a']);
    expect(names(wheel.takeExpired(110))).toEqual(['b', 'c']);
    expect(wheel.takeExpired(120)).toEqual([]);
    expect(wheel.size).toBe(0);
  });

  it('moves an item when its expiry changes and forgets removed ones', () => {
    const wheel = wheelAt(100);
    const a = item('a');
    const b = item('b');
    wheel.add(a, 101);
    wheel.add(a, 200);
    wheel.add(b, 150);
    wheel.remove(b);
    wheel.remove(b);
    expect(wheel.size).toBe(1);
    expect(wheel.takeExpired(199)).toEqual([]);
    expect(names(wheel.takeExpired(200))).toEqual(['a']);
    expect(wheel.size).toBe(0);
  });

  it('removes any item of a crowded second, first, middle or last, and keeps the others', () => {
    const wheel = wheelAt(100);
    const items = Array.from({ length: 6 }, (_, i) => item(`s${i}`));
    for (const i of items) wheel.add(i, 130);
    wheel.remove(items[0]!);
    wheel.remove(items[3]!);
    wheel.remove(items[5]!);
    expect(wheel.size).toBe(3);
    expect(names(wheel.takeExpired(130))).toEqual(['s1', 's2', 's4']);
    // Taken items are off the wheel: removing one later (its socket closing) changes nothing.
    wheel.remove(items[1]!);
    expect(wheel.size).toBe(0);
  });

  it('files an already-past expiry in the next sweep rather than losing it', () => {
    const wheel = wheelAt(100);
    wheel.takeExpired(150);
    wheel.add(item('late'), 120.5);
    expect(names(wheel.takeExpired(151))).toEqual(['late']);
  });
});
