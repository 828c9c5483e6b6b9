import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { HeraldClient, UsageError, type ConnectionState, type HeraldClientError } from '../../../src/client/index.js';

describe('HeraldClient options', () => {
  it('refuses a URL that is not a WebSocket URL at construction, not at the first reconnect', () => {
    expect(() => new HeraldClient({ url: 'ftp://h/ws', token: 't', WebSocket })).toThrow(UsageError);
    expect(() => new HeraldClient({ url: '/ws', token: 't', WebSocket })).toThrow(/not a WebSocket URL/);
  });

  it('starts idle: nothing connects before connect()', () => {
    const client = new HeraldClient({ url: 'ws://127.0.0.1:9/ws', token: 't', WebSocket });
    expect(client.state).toEqual({ status: 'idle' });
  });

  it('a url function is called on connect, not at construction; a bad URL from it is reported and retried', async () => {
    let calls = 0;
    const client = new HeraldClient({ url: () => (calls++, 'ftp://h/ws'), token: 't', WebSocket, backoff: { baseMs: 1, maxMs: 1 } });
    expect(calls).toBe(0);
    const errors: HeraldClientError[] = [];
    const states: ConnectionState[] = [];
    client.onError((error) => errors.push(error));
    client.onState((state) => states.push(state));
    client.connect();
    for (let i = 0; i < 100 && calls < 2; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    await client.close();
    expect(calls).toBeGreaterThanOrEqual(2);
    expect(errors.some((error) => error instanceof UsageError && /not a WebSocket URL/.test(error.message))).toBe(true);
    expect(states.some((state) => state.status === 'reconnecting')).toBe(true);
  });
});
