import { timingSafeEqual } from 'node:crypto';
import { BusUnavailableError, MessageTooLargeError, PayloadTooLargeError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { IdString } from '../protocol/event.js';
import { InvalidEventError } from '../protocol/validation-error.js';
import { json, jsonError, type HttpRequest, type HttpResponse } from './http-types.js';

/** What the HTTP API needs of a gateway. */
export interface GatewayApi {
  readonly ready: boolean;
  readonly metrics: Metrics;
  emit(body: unknown): Promise<string[]>;
  disconnectUser(userId: string): Promise<void>;
  disconnectSession(sessionId: string): Promise<void>;
}

export interface HttpApiDeps {
  gateway: GatewayApi;
  publishToken: string | undefined;
  log: Logger;
}

const utf8 = new TextDecoder();
const USER_DISCONNECT = /^\/v1\/users\/([^/]+)\/disconnect$/;
const SESSION_DISCONNECT = /^\/v1\/sessions\/([^/]+)\/disconnect$/;

/** The publisher API (§2) and the probes (§5). Errors become statuses here and only here. */
export function createHttpApi(deps: HttpApiDeps): (request: HttpRequest) => Promise<HttpResponse> {
  const { gateway, log } = deps;
  const expectedToken = deps.publishToken ? Buffer.from(deps.publishToken) : undefined;

  function authorized(request: HttpRequest): boolean {
    const header = request.header('authorization');
    if (!expectedToken || !header?.startsWith('Bearer ')) return false;
    const given = Buffer.from(header.slice(7).trim());
    return given.length === expectedToken.length && timingSafeEqual(given, expectedToken);
  }

  async function route(request: HttpRequest): Promise<HttpResponse> {
    const { method, path } = request;
    if (path === '/healthz') return json(200, { status: 'ok' });
    if (path === '/readyz') {
      return gateway.ready ? json(200, { status: 'ready' }) : json(503, { status: 'not_ready' });
    }
    if (path === '/metrics') {
      const registry = gateway.metrics.registry;
      return { status: 200, headers: { 'content-type': registry.contentType }, body: await registry.metrics() };
    }
    if (!path.startsWith('/v1/')) return jsonError(404, 'not_found', `no route for ${path}`);
    if (!authorized(request)) return jsonError(401, 'unauthorized', 'a valid publish token is required (Authorization: Bearer)');

    const userMatch = USER_DISCONNECT.exec(path);
    const sessionMatch = SESSION_DISCONNECT.exec(path);
    if (path !== '/v1/events' && !userMatch && !sessionMatch) return jsonError(404, 'not_found', `no route for ${path}`);
    if (method !== 'POST') return jsonError(405, 'method_not_allowed', `${path} takes POST`);

    if (path === '/v1/events') return publish(request);
    const id = decodeId((userMatch ?? sessionMatch)![1]!);
    if (id === undefined) {
      return json(400, { error: 'invalid_id', message: `the id must be 1–${IdString.maxLength} characters` });
    }
    if (userMatch) await gateway.disconnectUser(id);
    else await gateway.disconnectSession(id);
    return json(202, { accepted: true });
  }

  async function publish(request: HttpRequest): Promise<HttpResponse> {
    const contentType = request.header('content-type') ?? '';
    if (!/^application\/([\w.+-]+\+)?json\b/i.test(contentType)) {
      return jsonError(415, 'unsupported_media_type', 'send the events as application/json');
    }
    const bytes = await request.body();
    let body: unknown;
    try {
      body = JSON.parse(utf8.decode(bytes));
    } catch (error) {
      return jsonError(415, 'not_json', `the body is not JSON: ${(error as Error).message}`);
    }
    const ids = await gateway.emit(body);
    return json(202, { ids });
  }

  return async function handle(request: HttpRequest): Promise<HttpResponse> {
    try {
      return await route(request);
    } catch (error) {
      if (error instanceof InvalidEventError) return json(400, { error: 'invalid_event', details: error.details });
      if (error instanceof PayloadTooLargeError) return jsonError(413, 'payload_too_large', 'the body is over 1 MiB');
      if (error instanceof MessageTooLargeError) return jsonError(413, 'payload_too_large', `${error.message}: nothing was published`);
      if (error instanceof BusUnavailableError) return jsonError(503, 'bus_unavailable', `${error.message}: nothing was published`);
      log.error({ err: error, path: request.path }, 'request failed');
      return jsonError(500, 'internal_error', 'the request failed; see the gateway log');
    }
  };
}

function decodeId(raw: string): string | undefined {
  let id: string;
  try {
    id = decodeURIComponent(raw);
  } catch {
    return undefined;
  }
  return id.length >= 1 && id.length <= (IdString.maxLength ?? 128) ? id : undefined;
}
