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

  it('adds since=<epoch>:<seq> on a resume, URL-encoded alongside access_token', () => {
    expect(socketUrl('ws://h/ws', 'a+b', undefined, 'Zx-_9a:4096')).toBe('ws://h/ws?access_token=a%2Bb&since=Zx-_9a%3A4096');
    // An epoch may hold any character but ':'; the server reads it back with URLSearchParams.
    const url = new URL(socketUrl('ws://h/ws?since=old', 't', undefined, 'a&b=c d/é:7'));
    expect(url.searchParams.get('since')).toBe('a&b=c d/é:7');
    expect(url.searchParams.getAll('since')).toHaveLength(1);
    expect(url.searchParams.get('access_token')).toBe('t');
  });

  it('refuses a URL that is not a WebSocket URL', () => {
    expect(() => socketUrl('/ws', 't')).toThrow(UsageError);
    expect(() => socketUrl('ftp://h/ws', 't')).toThrow(UsageError);
  });
});
