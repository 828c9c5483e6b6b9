import type { StoredMessage } from '../../src/bus/bus.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LocalBus } from '../../src/bus/local.js';
import { Emitter } from '../../src/emitter.js';
import { PayloadTooLargeError } from '../../src/errors.js';
import { createHttpApi } from '../../src/http/api.js';
import type { HttpRequest, HttpResponse } from '../../src/http/http-types.js';
import { createLogger } from '../../src/log.js';
import { createMetrics } from '../../src/metrics.js';
import { decodeBusMessage, MessageKind, type BusMessage } from '../../src/protocol/bus-format.js';
import { TARGET_USERS_RULE } from '../../src/protocol/event.js';

const PUBLISH_TOKEN = 'http-api-unit-publish-token-0123456789';
const AUTH = { authorization: `Bearer ${PUBLISH_TOKEN}` };
const JSON_AUTH = { ...AUTH, 'content-type': 'application/json' };

interface RequestInit {
  method?: string;
  headers?: Record<string, string>;
  /** A string or value (serialized as JSON), raw bytes, or a body reader. */
  body?: unknown;
}

function request(path: string, init: RequestInit = {}): HttpRequest {
  const headers = new Map(Object.entries(init.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const { body } = init;
  return {
    method: init.method ?? 'GET',
    path,
    header: (name) => headers.get(name.toLowerCase()),
    body: async () => {
      if (typeof body === 'function') return (body as () => Promise<Uint8Array>)();
      if (body instanceof Uint8Array) return body;
      if (body === undefined) return new Uint8Array();
      return new TextEncoder().encode(typeof body === 'string' ? body : JSON.stringify(body));
    },
  };
}

const post = (path: string, body?: unknown, headers: Record<string, string> = JSON_AUTH) =>
  request(path, { method: 'POST', headers, body });

/**
 * Kind 5 is a bundle (several messages stored as one, the recovery work in progress): its payload
 * is, per message, a 32-bit big-endian length and the bytes. Flattened so the tests see the events.
 */
const BUNDLE_KIND = 5;

function decodeAll(msg: StoredMessage): BusMessage[] {
  // The local bus hands over the emitter's messages as they were made.
  if (!(msg instanceof Uint8Array)) return [...msg];
  if (msg[2] !== BUNDLE_KIND) return [decodeBusMessage(msg)];
  const bytes = Buffer.from(msg.buffer, msg.byteOffset, msg.byteLength);
  const out: BusMessage[] = [];
  for (let at = 7 + bytes.readUInt32BE(3); at < bytes.length; ) {
    const length = bytes.readUInt32BE(at);
    out.push(...decodeAll(bytes.subarray(at + 4, at + 4 + length)));
    at += 4 + length;
  }
  return out;
}

const buses: LocalBus[] = [];
afterEach(async () => {
  for (const bus of buses.splice(0)) await bus.close();
});

async function setup(options: { publishToken?: string | undefined } = {}) {
  const bus = new LocalBus();
  buses.push(bus);
  const received: BusMessage[] = [];
  await bus.start((msg) => received.push(...decodeAll(msg)));
  const emitter = new Emitter({ bus, revocationKeepMs: 24 * 3600 * 1000, clockSkewMs: 30_000 });
  const metrics = createMetrics();
  const log = createLogger('silent');
  const state = { ready: true };
  const handle = createHttpApi({
    emitter,
    metrics,
    readiness: () => ({ ready: state.ready, bus: state.ready ? 'up' : 'down' }),
    socketPath: '/ws',
    publishToken: 'publishToken' in options ? options.publishToken : PUBLISH_TOKEN,
    log,
  });
  return { handle, bus, received, metrics, log, state };
}

const bodyOf = (response: HttpResponse) => JSON.parse(response.body) as Record<string, unknown>;

function expectJsonError(response: HttpResponse, status: number, error: string): void {
  expect(response.status).toBe(status);
  expect(response.headers?.['content-type']).toBe('application/json');
  const body = bodyOf(response);
  expect(Object.keys(body).sort()).toEqual(['error', 'message']);
  expect(body.error).toBe(error);
  expect(typeof body.message).toBe('string');
}

const frameOf = (message: BusMessage) => {
  if (message.kind !== MessageKind.Event) throw new Error(`kind ${message.kind}`);
  return JSON.parse(typeof message.frame === 'string' ? message.frame : new TextDecoder().decode(message.frame)) as Record<string, unknown>;
};

const event = (overrides: Record<string, unknown> = {}) => ({
  type: 'ITEM_CREATED',
  content: { item: { id: 7 } },
  targetUsers: ['u1', 'u2'],
  ...overrides,
});

describe('HTTP API: probes', () => {
  it('answers GET /healthz with 200', async () => {
    const { handle } = await setup();
    const response = await handle(request('/healthz'));
    expect(response.status).toBe(200);
    expect(bodyOf(response)).toEqual({ status: 'ok' });
  });

  it('answers GET /readyz with 200 while ready and 503 with the reason while not', async () => {
    const { handle, state } = await setup();
    expect((await handle(request('/readyz'))).status).toBe(200);
    state.ready = false;
    const notReady = await handle(request('/readyz'));
    expect(notReady.status).toBe(503);
    expect(bodyOf(notReady)).toEqual({ status: 'not_ready', bus: 'down' });
    state.ready = true;
    expect((await handle(request('/readyz'))).status).toBe(200);
  });

  it('answers GET /metrics with 200 and Prometheus text naming the contract metrics', async () => {
    const { handle, metrics } = await setup();
    metrics.upgradesRejected.inc({ reason: 'draining' });
    const response = await handle(request('/metrics'));
    expect(response.status).toBe(200);
    expect(response.headers?.['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(response.body).toContain('# TYPE herald_upgrades_rejected_total counter');
    expect(response.body).toContain('herald_upgrades_rejected_total{reason="draining"} 1');
    expect(response.body).toContain('# TYPE herald_connections gauge');
    expect(response.body).toContain('# TYPE herald_delivery_seconds histogram');
  });

  it('answers 404 for a path outside the API', async () => {
    const { handle } = await setup();
    expectJsonError(await handle(request('/nope')), 404, 'not_found');
  });
});

describe('HTTP API: publish token', () => {
  it('refuses /v1/events without a publish token with 401 and publishes nothing', async () => {
    const { handle, received } = await setup();
    const response = await handle(post('/v1/events', event(), { 'content-type': 'application/json' }));
    expectJsonError(response, 401, 'unauthorized');
    expect(received).toEqual([]);
  });

  it('refuses /v1/events with a wrong publish token with 401 and publishes nothing', async () => {
    const { handle, received } = await setup();
    const sameLength = PUBLISH_TOKEN.slice(0, -1) + (PUBLISH_TOKEN.endsWith('9') ? '8' : '9');
    for (const token of ['wrong', sameLength, `${PUBLISH_TOKEN}x`, PUBLISH_TOKEN.slice(0, -1)]) {
      const response = await handle(
        post('/v1/events', event(), { authorization: `Bearer ${token}`, 'content-type': 'application/json' }),
      );
      expectJsonError(response, 401, 'unauthorized');
    }
    expect(received).toEqual([]);
  });

  it('refuses the publish token sent without the Bearer scheme with 401', async () => {
    const { handle } = await setup();
    const response = await handle(post('/v1/events', event(), { authorization: PUBLISH_TOKEN, 'content-type': 'application/json' }));
    expectJsonError(response, 401, 'unauthorized');
  });

  it('refuses every /v1 request with 401 when no publish token is configured', async () => {
    const { handle, received } = await setup({ publishToken: undefined });
    for (const token of ['', 'undefined', PUBLISH_TOKEN]) {
      const response = await handle(
        post('/v1/events', event(), { authorization: `Bearer ${token}`, 'content-type': 'application/json' }),
      );
      expectJsonError(response, 401, 'unauthorized');
    }
    expectJsonError(await handle(post('/v1/users/u1/disconnect', undefined, AUTH)), 401, 'unauthorized');
    expect(received).toEqual([]);
  });

  it('refuses the disconnect endpoints without a publish token with 401 and publishes nothing', async () => {
    const { handle, received } = await setup();
    expectJsonError(await handle(post('/v1/users/u1/disconnect', undefined, {})), 401, 'unauthorized');
    expectJsonError(await handle(post('/v1/sessions/s1/disconnect', undefined, {})), 401, 'unauthorized');
    expect(received).toEqual([]);
  });
});

describe('HTTP API: routes and request shape', () => {
  it('answers 404 for an unknown /v1 path', async () => {
    const { handle } = await setup();
    expectJsonError(await handle(post('/v1/nope', event())), 404, 'not_found');
    expectJsonError(await handle(post('/v1/users/u1/logout', undefined, AUTH)), 404, 'not_found');
  });

  it('answers GET /v1/events with 405', async () => {
    const { handle, received } = await setup();
    expectJsonError(await handle(request('/v1/events', { headers: AUTH })), 405, 'method_not_allowed');
    expect(received).toEqual([]);
  });

  it('answers GET on a disconnect path with 405 and disconnects nobody', async () => {
    const { handle, received } = await setup();
    expectJsonError(await handle(request('/v1/users/u1/disconnect', { headers: AUTH })), 405, 'method_not_allowed');
    expect(received).toEqual([]);
  });

  it('answers a body that is not application/json with 415', async () => {
    const { handle, received } = await setup();
    for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'application/jsonp']) {
      const response = await handle(post('/v1/events', event(), { ...AUTH, 'content-type': contentType }));
      expectJsonError(response, 415, 'unsupported_media_type');
    }
    expectJsonError(await handle(post('/v1/events', event(), AUTH)), 415, 'unsupported_media_type');
    expect(received).toEqual([]);
  });

  it('accepts application/json with a charset parameter', async () => {
    const { handle, received } = await setup();
    const response = await handle(post('/v1/events', event(), { ...AUTH, 'content-type': 'application/json; charset=utf-8' }));
    expect(response.status).toBe(202);
    expect(received).toHaveLength(1);
  });

  it('answers a body that is not JSON with 415', async () => {
    const { handle, received } = await setup();
    for (const body of ['{"type":', '', 'not json']) {
      expectJsonError(await handle(post('/v1/events', body)), 415, 'not_json');
    }
    expect(received).toEqual([]);
  });
});

describe('HTTP API: POST /v1/events', () => {
  it('answers an invalid event with 400 invalid_event, JSON-pointer details, and publishes nothing', async () => {
    const { handle, received } = await setup();
    const response = await handle(post('/v1/events', { type: 'ITEM_CREATED', content: {}, targetUsers: [] }));
    expect(response.status).toBe(400);
    expect(bodyOf(response)).toEqual({
      error: 'invalid_event',
      details: [{ path: '/targetUsers', message: TARGET_USERS_RULE }],
    });
    expect(received).toEqual([]);
  });

  it('answers a batch with one bad event with 400, pointing at that event, and publishes nothing', async () => {
    const { handle, received } = await setup();
    const response = await handle(post('/v1/events', [event(), event({ targetUsers: ['u1', 'u1'] }), event()]));
    expect(response.status).toBe(400);
    expect(bodyOf(response)).toEqual({
      error: 'invalid_event',
      details: [{ path: '/1/targetUsers', message: TARGET_USERS_RULE }],
    });
    expect(received).toEqual([]);
  });

  it('answers a valid event with 202 {ids} once it is on the bus', async () => {
    const { handle, received } = await setup();
    const response = await handle(post('/v1/events', event({ id: 'evt-1', fromUserId: 'u1', fromSessionId: 's1' })));
    expect(response.status).toBe(202);
    expect(bodyOf(response)).toEqual({ ids: ['evt-1'] });
    expect(received).toHaveLength(1);
    const message = received[0]!;
    expect(message.kind).toBe(MessageKind.Event);
    expect(message.header).toMatchObject({ targetUsers: ['u1', 'u2'], fromSessionId: 's1', inclusive: false });
    expect(frameOf(message)).toMatchObject({ type: 'ITEM_CREATED', id: 'evt-1', content: { item: { id: 7 } }, fromUserId: 'u1' });
  });

  it('answers a valid batch with 202 and its ids in request order, the messages on the bus in that order', async () => {
    const { handle, received } = await setup();
    const batch = [
      event({ type: 'FIRST', content: 1 }),
      event({ type: 'SECOND', content: 2, id: 'given-2' }),
      event({ type: 'THIRD', content: 3 }),
    ];
    const response = await handle(post('/v1/events', batch));
    expect(response.status).toBe(202);
    const { ids } = bodyOf(response) as { ids: string[] };
    expect(ids).toHaveLength(3);
    expect(ids[1]).toBe('given-2');
    expect(received.map((m) => frameOf(m).type)).toEqual(['FIRST', 'SECOND', 'THIRD']);
    expect(received.map((m) => frameOf(m).id)).toEqual(ids);
    expect(received.map((m) => frameOf(m).content)).toEqual([1, 2, 3]);
  });

  it('answers 413 when the body reader refuses a body over the limit, and publishes nothing', async () => {
    const { handle, received } = await setup();
    const response = await handle(
      post('/v1/events', async () => {
        throw new PayloadTooLargeError('body over 1048576 bytes');
      }),
    );
    expectJsonError(response, 413, 'payload_too_large');
    expect(received).toEqual([]);
  });

  it('answers 503 bus_unavailable while the bus is down, and publishes nothing', async () => {
    const { handle, bus, received } = await setup();
    await bus.close();
    const response = await handle(post('/v1/events', [event(), event()]));
    expectJsonError(response, 503, 'bus_unavailable');
    expect(received).toEqual([]);
  });

  it('answers 500 internal_error on an unexpected exception, and logs it', async () => {
    const { handle, log, received } = await setup();
    const logged = vi.spyOn(log, 'error');
    const response = await handle(
      post('/v1/events', async () => {
        throw new Error('connection reset while reading the body');
      }),
    );
    expectJsonError(response, 500, 'internal_error');
    expect(logged).toHaveBeenCalledTimes(1);
    expect(logged.mock.calls[0]![0]).toMatchObject({ path: '/v1/events' });
    expect(received).toEqual([]);
  });
});

describe('HTTP API: disconnects', () => {
  it('answers POST /v1/users/{id}/disconnect with 202 and puts a DisconnectUser for the decoded id on the bus', async () => {
    const { handle, received } = await setup();
    const before = Date.now();
    const response = await handle(post('/v1/users/user%20a%2Fb/disconnect', undefined, AUTH));
    expect(response.status).toBe(202);
    expect(received).toHaveLength(1);
    const message = received[0]!;
    expect(message.kind).toBe(MessageKind.DisconnectUser);
    if (message.kind !== MessageKind.DisconnectUser) return;
    expect(message.header.userId).toBe('user a/b');
    expect(message.header.revokedAt).toBeGreaterThanOrEqual(before);
    expect(message.header.revokedAt).toBeLessThanOrEqual(Date.now());
  });

  it('answers POST /v1/sessions/{id}/disconnect with 202 and puts a DisconnectSession on the bus', async () => {
    const { handle, received } = await setup();
    const response = await handle(post('/v1/sessions/s%C3%A9ssion-1/disconnect', undefined, AUTH));
    expect(response.status).toBe(202);
    expect(received).toEqual([
      {
        kind: MessageKind.DisconnectSession,
        header: { sessionId: 'séssion-1', revokedAt: expect.any(Number), calledAt: expect.any(Number) },
      },
    ]);
  });

  it('answers POST /v1/users/{userId}/sessions/{sessionId}/disconnect with 202 and a DisconnectSession of that user on the bus', async () => {
    const { handle, received } = await setup();
    const before = Date.now();
    const response = await handle(post('/v1/users/u%201/sessions/s%2F1/disconnect', undefined, AUTH));
    expect(response.status).toBe(202);
    expect(received).toHaveLength(1);
    const message = received[0]!;
    if (message.kind !== MessageKind.DisconnectSession) throw new Error(`kind ${message.kind}`);
    expect(message.header).toMatchObject({ userId: 'u 1', sessionId: 's/1' });
    expect(message.header.revokedAt).toBeGreaterThanOrEqual(before);
    expect(message.header.calledAt).toBe(message.header.revokedAt);
  });

  it('takes {"issuedBefore": <epoch seconds>} as the revocation instant, and refuses any other body with 400 invalid_request', async () => {
    const { handle, received } = await setup();
    const issuedBefore = Math.floor(Date.now() / 1000) - 10;
    expect((await handle(post('/v1/users/u1/disconnect', JSON.stringify({ issuedBefore })))).status).toBe(202);
    const message = received[0]!;
    if (message.kind !== MessageKind.DisconnectUser) throw new Error(`kind ${message.kind}`);
    expect(message.header.revokedAt).toBe(issuedBefore * 1000);
    expect(message.header.calledAt).toBeGreaterThan(issuedBefore * 1000);
    for (const bad of ['{"issuedBefore":"soon"}', `{"issuedBefore":${issuedBefore + 3600}}`, '{"issuedBefore":-1}', '{"other":1}', '[1]', 'nope']) {
      expectJsonError(await handle(post('/v1/users/u1/disconnect', bad)), 400, 'invalid_request');
      expectJsonError(await handle(post('/v1/sessions/s1/disconnect', bad)), 400, 'invalid_request');
    }
    expect(received).toHaveLength(1);
  });

  it('answers ids that are not well-formed or hold control characters with 400 invalid_id, in every disconnect path', async () => {
    const { handle, received } = await setup();
    for (const id of ['a%00b', 'tab%09', '%C2%85', '%7F', '%ED%A0%80']) {
      expectJsonError(await handle(post(`/v1/users/${id}/disconnect`, undefined, AUTH)), 400, 'invalid_id');
      expectJsonError(await handle(post(`/v1/sessions/${id}/disconnect`, undefined, AUTH)), 400, 'invalid_id');
      expectJsonError(await handle(post(`/v1/users/${id}/sessions/s1/disconnect`, undefined, AUTH)), 400, 'invalid_id');
      expectJsonError(await handle(post(`/v1/users/u1/sessions/${id}/disconnect`, undefined, AUTH)), 400, 'invalid_id');
    }
    expect(received).toEqual([]);
  });

  it('answers a user id over 128 characters with 400 invalid_id and disconnects nobody', async () => {
    const { handle, received } = await setup();
    expectJsonError(await handle(post(`/v1/users/${'u'.repeat(129)}/disconnect`, undefined, AUTH)), 400, 'invalid_id');
    expectJsonError(await handle(post(`/v1/sessions/${'s'.repeat(129)}/disconnect`, undefined, AUTH)), 400, 'invalid_id');
    expect(received).toEqual([]);
  });

  it('accepts a user id of exactly 128 characters', async () => {
    const { handle, received } = await setup();
    expect((await handle(post(`/v1/users/${'u'.repeat(128)}/disconnect`, undefined, AUTH))).status).toBe(202);
    expect(received).toHaveLength(1);
  });

  it('answers an id with bad percent-encoding with 400 invalid_id and disconnects nobody', async () => {
    const { handle, received } = await setup();
    expectJsonError(await handle(post('/v1/users/%E0%A4%A/disconnect', undefined, AUTH)), 400, 'invalid_id');
    expectJsonError(await handle(post('/v1/sessions/%E0%A4%A/disconnect', undefined, AUTH)), 400, 'invalid_id');
    expect(received).toEqual([]);
  });

  it('answers a disconnect with 503 bus_unavailable while the bus is down', async () => {
    const { handle, bus, received } = await setup();
    await bus.close();
    expectJsonError(await handle(post('/v1/users/u1/disconnect', undefined, AUTH)), 503, 'bus_unavailable');
    expectJsonError(await handle(post('/v1/sessions/s1/disconnect', undefined, AUTH)), 503, 'bus_unavailable');
    expect(received).toEqual([]);
  });
});
