import { describe, expect, it } from 'vitest';
import { ExpiryWheel } from '../../src/gateway/expiry-wheel.js';

describe('ExpiryWheel', () => {
  it('returns items once their second has come, each once', () => {
    const wheel = new ExpiryWheel<string>(100);
    wheel.add('a', 101);
    wheel.add('b', 103);
    wheel.add('c', 103);
    expect(wheel.takeExpired(100)).toEqual([]);
    expect(wheel.takeExpired(102)).toEqual(['a']);
    expect(wheel.takeExpired(110).sort()).toEqual(['b', 'c']);
    expect(wheel.takeExpired(120)).toEqual([]);
    expect(wheel.size).toBe(0);
  });

  it('moves an item when its expiry changes and forgets removed ones', () => {
    const wheel = new ExpiryWheel<string>(100);
    const bucket = wheel.add('a', 101);
    wheel.remove('a', bucket);
    wheel.add('a', 200);
    const gone = wheel.add('b', 150);
    wheel.remove('b', gone);
    expect(wheel.takeExpired(199)).toEqual([]);
    expect(wheel.takeExpired(200)).toEqual(['a']);
    expect(wheel.size).toBe(0);
  });

  it('files an already-past expiry in the next sweep rather than losing it', () => {
    const wheel = new ExpiryWheel<string>(100);
    wheel.takeExpired(150);
    wheel.add('late', 120.5);
    expect(wheel.takeExpired(151)).toEqual(['late']);
  });
});
