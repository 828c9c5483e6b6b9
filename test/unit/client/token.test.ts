import { describe, expect, it } from 'vitest';
import { TokenError } from '../../../src/client/errors.js';
import { readTokenTimes, refreshDelayMs } from '../../../src/client/token.js';
import { mintToken } from '../../e2e/harness/tokens.js';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('reading exp from a JWT without verifying it', () => {
  it('reads exp and iat from a signed token', async () => {
    const token = await mintToken({ sub: 'u', sid: 's', iat: 1_700_000_000, exp: 1_700_003_600 });
    expect(readTokenTimes(token)).toEqual({ exp: 1_700_003_600, iat: 1_700_000_000 });
  });

  it('decodes base64url payloads with non-ASCII claims and no padding', () => {
    const token = `${b64({ alg: 'HS256' })}.${b64({ exp: 5, name: 'Zoë 🚀?>' })}.sig`;
    expect(readTokenTimes(token)).toEqual({ exp: 5, iat: undefined });
  });

  it.each([
    ['not a JWT', 'abc'],
    ['no exp', `${b64({})}.${b64({ sub: 'u' })}.sig`],
    ['exp not a number', `${b64({})}.${b64({ exp: '5' })}.sig`],
    ['payload not JSON', `${b64({})}.${Buffer.from('nope').toString('base64url')}.sig`],
  ])('throws TokenError for %s', (_, token) => {
    expect(() => readTokenTimes(token)).toThrow(TokenError);
  });
});

describe('when to refresh', () => {
  const now = 1_700_000_000_000;

  it('refreshes an hour-long token a minute before it expires', () => {
    expect(refreshDelayMs({ iat: now / 1000, exp: now / 1000 + 3600 }, now)).toBe(3_540_000);
  });

  it('refreshes a short token a quarter of its lifetime early, at least a second early', () => {
    expect(refreshDelayMs({ iat: now / 1000, exp: now / 1000 + 8 }, now)).toBe(6_000);
    expect(refreshDelayMs({ iat: now / 1000, exp: now / 1000 + 3 }, now)).toBe(2_000);
  });

  it('uses the lead the application asked for', () => {
    expect(refreshDelayMs({ iat: undefined, exp: now / 1000 + 100 }, now, 30_000)).toBe(70_000);
  });

  it('never schedules sooner than a second, even for a token about to expire', () => {
    expect(refreshDelayMs({ iat: undefined, exp: now / 1000 }, now)).toBe(1_000);
  });
});
