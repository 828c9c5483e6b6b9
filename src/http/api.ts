import { timingSafeEqual } from 'node:crypto';
import { bearerToken } from '../auth/authorization-header.js';
import type { DisconnectOptions, Emitter } from '../emitter.js';
import {
  BusUnavailableError,
  IncompleteBodyError,
  InvalidIdError,
  InvalidRequestError,
  MessageTooLargeError,
  PayloadTooLargeError,
} from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { checkBodyNesting } from '../protocol/body-nesting.js';
import { InvalidEventError } from '../protocol/validation-error.js';
import { json, jsonError, type HttpRequest, type HttpResponse } from './http-types.js';
import { isUtf8, parseJsonBody, pieceBytesFor } from './json-body.js';

export interface HttpApiDeps {
  /** The pod's one emit path. */
  emitter: Pick<Emitter, 'emit' | 'disconnectUser' | 'disconnectSession'>;
  metrics: Metrics;
  /** /readyz: ready when the bus is up, the revocation table is complete and the pod is not draining; the rest says why not. */
  readiness(): { ready: boolean } & Record<string, unknown>;
  publishToken: string | undefined;
  /** The WebSocket path: a plain request there is told to upgrade (426). */
  socketPath: string;
  log: Logger;
}

const USER_DISCONNECT = /^\/v1\/users\/([^/]+)\/disconnect$/;
const USER_SESSION_DISCONNECT = /^\/v1\/users\/([^/]+)\/sessions\/([^/]+)\/disconnect$/;
const SESSION_DISCONNECT = /^\/v1\/sessions\/([^/]+)\/disconnect$/;
const NOT_UTF8 = 'the body is not valid UTF-8';
const DISCONNECT_BODY_RULE = 'the body may be empty or {"issuedBefore": <epoch seconds>}';

/** The paths the HTTP API answers (besides the socket path): what a gateway mounted in an app keeps for itself. */
export function isApiPath(path: string): boolean {
  return path === '/healthz' || path === '/readyz' || path === '/metrics' || path.startsWith('/v1/');
}

/** The publisher API (§2) and the probes (§5). Errors become statuses here and only here. */
export function createHttpApi(deps: HttpApiDeps): (request: HttpRequest) => Promise<HttpResponse> {
  const { emitter, log } = deps;
  const expectedToken = deps.publishToken ? Buffer.from(deps.publishToken) : undefined;

  function authorized(request: HttpRequest): boolean {
    const token = bearerToken(request.header('authorization'));
    if (!expectedToken || token === undefined) return false;
    const given = Buffer.from(token);
    return given.length === expectedToken.length && timingSafeEqual(given, expectedToken);
  }

  async function route(request: HttpRequest): Promise<HttpResponse> {
    const { method, path } = request;
    if (path === '/healthz') return json(200, { status: 'ok' });
    if (path === '/readyz') {
      const { ready, ...detail } = deps.readiness();
      return ready ? json(200, { status: 'ready' }) : json(503, { status: 'not_ready', ...detail });
    }
    if (path === '/metrics') {
      const registry = deps.metrics.registry;
      return { status: 200, headers: { 'content-type': registry.contentType }, body: await registry.metrics() };
    }
    if (path === deps.socketPath) {
      return json(
        426,
        { error: 'upgrade_required', message: `${path} takes a WebSocket upgrade (Upgrade: websocket)` },
        { upgrade: 'websocket', connection: 'Upgrade' },
      );
    }
    if (!path.startsWith('/v1/')) return jsonError(404, 'not_found', `no route for ${path}`);
    if (!authorized(request)) return jsonError(401, 'unauthorized', 'a valid publish token is required (Authorization: Bearer)');

    const userMatch = USER_DISCONNECT.exec(path);
    const userSessionMatch = USER_SESSION_DISCONNECT.exec(path);
    const sessionMatch = SESSION_DISCONNECT.exec(path);
    if (path !== '/v1/events' && !userMatch && !userSessionMatch && !sessionMatch) {
      return jsonError(404, 'not_found', `no route for ${path}`);
    }
    if (method !== 'POST') return jsonError(405, 'method_not_allowed', `${path} takes POST`);

    if (path === '/v1/events') return publish(request);
    if (userMatch) {
      const userId = decodeId(userMatch[1]!);
      await emitter.disconnectUser(userId, await disconnectOptions(request));
    } else if (userSessionMatch) {
      const userId = decodeId(userSessionMatch[1]!);
      const sessionId = decodeId(userSessionMatch[2]!);
      await emitter.disconnectSession(sessionId, { ...(await disconnectOptions(request)), userId });
    } else {
      await emitter.disconnectSession(decodeId(sessionMatch![1]!), await disconnectOptions(request));
    }
    return json(202, { accepted: true });
  }

  /** A disconnect's body: none, or `{"issuedBefore": …}` (checked by the emitter). */
  async function disconnectOptions(request: HttpRequest): Promise<DisconnectOptions> {
    const bytes = await request.body();
    if (bytes.length === 0) return {};
    const parsed = parseJsonBody(bytes, []);
    if (!parsed.ok) throw new InvalidRequestError(`the body is not JSON: ${DISCONNECT_BODY_RULE}`);
    const body = parsed.value;
    if (body === null || typeof body !== 'object' || Array.isArray(body) || Object.keys(body).some((k) => k !== 'issuedBefore')) {
      throw new InvalidRequestError(DISCONNECT_BODY_RULE);
    }
    const { issuedBefore } = body as { issuedBefore?: unknown };
    // The emitter checks the value: a number of epoch seconds, not too far ahead.
    return issuedBefore === undefined ? {} : { issuedBefore: issuedBefore as number };
  }

  async function publish(request: HttpRequest): Promise<HttpResponse> {
    const mediaTypeProblem = checkMediaType(request.header('content-type'));
    if (mediaTypeProblem) return jsonError(415, 'unsupported_media_type', mediaTypeProblem);
    const bytes = await request.body();
    let cuts: number[];
    try {
      // Before JSON.parse: a deep body would cost the parser, and the encoder after it, seconds.
      cuts = checkBodyNesting(bytes, pieceBytesFor(bytes));
    } catch (error) {
      // A body that is not UTF-8 is refused as such, however deep.
      if (!isUtf8(bytes)) return jsonError(415, 'not_json', NOT_UTF8);
      throw error;
    }
    const body = parseJsonBody(bytes, cuts);
    if (!body.ok) return jsonError(415, 'not_json', body.problem === 'not_utf8' ? NOT_UTF8 : `the body is not JSON: ${body.message}`);
    const ids = await emitter.emit(body.value);
    return json(202, { ids });
  }

  return async function handle(request: HttpRequest): Promise<HttpResponse> {
    try {
      return await route(request);
    } catch (error) {
      if (error instanceof InvalidEventError) return json(400, { error: 'invalid_event', details: error.details });
      if (error instanceof InvalidIdError) return jsonError(400, 'invalid_id', error.message);
      if (error instanceof InvalidRequestError) return jsonError(400, 'invalid_request', error.message);
      if (error instanceof PayloadTooLargeError) return jsonError(413, 'payload_too_large', 'the body is over 1 MiB');
      if (error instanceof MessageTooLargeError) return jsonError(413, 'payload_too_large', `${error.message}: nothing was published`);
      if (error instanceof BusUnavailableError) return jsonError(503, 'bus_unavailable', `${error.message}: nothing was published`);
      if (error instanceof IncompleteBodyError) {
        // The client's doing, not the gateway's; answered where the connection is still there.
        log.warn({ path: request.path, reason: error.reason }, error.message);
        return error.reason === 'stalled'
          ? json(408, { error: 'request_timeout', message: `${error.message}: nothing was published` }, { connection: 'close' })
          : json(400, { error: 'incomplete_body', message: `${error.message}: nothing was published` }, { connection: 'close' });
      }
      log.error({ err: error, path: request.path }, 'request failed');
      return jsonError(500, 'internal_error', 'the request failed; see the gateway log');
    }
  };
}

/**
 * Why a Content-Type cannot carry events, or undefined: `application/json` or a `+json` type,
 * in UTF-8 (the only charset JSON has, RFC 8259), so no charset or `charset=utf-8`.
 */
function checkMediaType(header: string | undefined): string | undefined {
  const [essence = '', ...parameters] = (header ?? '').split(';');
  const type = essence.trim().toLowerCase();
  if (type !== 'application/json' && !/^application\/[\w.+-]+\+json$/.test(type)) {
    return 'send the events as application/json';
  }
  for (const parameter of parameters) {
    const [name = '', value = ''] = parameter.split('=');
    if (name.trim().toLowerCase() !== 'charset') continue;
    const charset = value.trim().replace(/^"(.*)"$/, '$1').toLowerCase();
    if (charset !== 'utf-8' && charset !== 'utf8') return `send the events in UTF-8 (charset=${charset.slice(0, 40)} is not supported)`;
  }
  return undefined;
}

/** A path parameter as the id it encodes; the emitter checks what an id may be. */
function decodeId(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new InvalidIdError(`the id in the path is not valid percent-encoding`);
  }
}
