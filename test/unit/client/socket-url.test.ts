import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/client/errors.js';
import { socketUrl } from '../../../src/client/socket-url.js';

describe('the socket URL', () => {
  it('puts the token in access_token, encoded, keeping other query parameters', () => {
    expect(socketUrl('wss://h.example/ws?v=1', 'a.b+c/=')).toBe('wss://h.example/ws?v=1&access_token=a.b%2Bc%2F%3D');
  });

  it('resolves a relative URL against the page and maps http(s) to ws(s)', () => {
    expect(socketUrl('/ws', 't', 'https://app.example/lists/7')).toBe('wss://app.example/ws?access_token=t');
    expect(socketUrl('/ws', 't', 'http://127.0.0.1:3000/')).toBe('ws://127.0.0.1:3000/ws?access_token=t');
  });

  it('refuses a URL that is not a WebSocket URL', () => {
    expect(() => socketUrl('/ws', 't')).toThrow(UsageError);
    expect(() => socketUrl('ftp://h/ws', 't')).toThrow(UsageError);
  });
});
