import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { HeraldClient, UsageError } from '../../../src/client/index.js';

describe('HeraldClient options', () => {
  it('refuses a URL that is not a WebSocket URL at construction, not at the first reconnect', () => {
    expect(() => new HeraldClient({ url: 'ftp://h/ws', token: 't', WebSocket })).toThrow(UsageError);
    expect(() => new HeraldClient({ url: '/ws', token: 't', WebSocket })).toThrow(/not a WebSocket URL/);
  });

  it('starts idle: nothing connects before connect()', () => {
    const client = new HeraldClient({ url: 'ws://127.0.0.1:9/ws', token: 't', WebSocket });
    expect(client.state).toEqual({ status: 'idle' });
  });
});
