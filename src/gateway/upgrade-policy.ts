import { readAuthorization } from '../auth/authorization-header.js';
import type { TokenVerifier } from '../auth/token-verifier.js';
import type { EngineFrame, UpgradeDecision, UpgradeRequest } from '../engine/engine.js';
import type { MissedFromLog } from '../recovery/log-reader.js';
import { AuthError, KeysUnavailableError, type AuthFailure } from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { Recovery } from '../recovery/recovery.js';
import { parseSince } from '../recovery/since.js';
import type { Hub } from './hub.js';
import type { SocketState } from './socket-state.js';

export type RefusalReason =
  | 'draining'
  | 'not_ready'
  | 'at_capacity'
  | 'origin_not_allowed'
  | AuthFailure
  | 'too_many_sockets'
  | 'invalid_since';

export interface UpgradePolicyDeps {
  verifier: TokenVerifier;
  hub: Hub;
  metrics: Metrics;
  allowedOrigins: '*' | ReadonlySet<string>;
  maxSocketsPerUser: number;
  /** Sockets this process can hold (open-file limit less a reserve). */
  maxConnections: number;
  isDraining(): boolean;
  isReady(): boolean;
  nextSocketKey(): string;
  /** The pod's view of the event log, when recovery is on. */
  recovery?: Pick<Recovery<EngineFrame>, 'epoch' | 'reach' | 'fromLog'>;
}

/** How long an upgrade waits for this pod to reach a `since` seen on a pod further ahead. */
const CATCH_UP_WAIT_MS = 2_000;

/** Decides an upgrade before the socket opens; every refusal is plain HTTP with a JSON body. */
export function createUpgradePolicy(deps: UpgradePolicyDeps) {
  const refuse = (status: number, reason: RefusalReason, message: string): UpgradeDecision<SocketState> => {
    deps.metrics.upgradesRejected.inc({ reason });
    return { accept: false, status, body: JSON.stringify({ error: reason, message }) };
  };

  return async function decide(request: UpgradeRequest): Promise<UpgradeDecision<SocketState>> {
    if (deps.isDraining()) return refuse(503, 'draining', 'this pod is shutting down; connect again');
    if (!deps.isReady()) return refuse(503, 'not_ready', 'this pod is not ready (event bus down, or revocations still loading)');
    if (deps.hub.size >= deps.maxConnections) return refuse(503, 'at_capacity', 'this pod holds all the sockets it can');

    const since = parseSince(queryParameter(request, 'since'));
    if (since === 'invalid') {
      return refuse(400, 'invalid_since', 'since must be <epoch>:<seq>: an epoch of 1–64 characters without ":", a whole seq');
    }

    const origin = request.header('origin');
    if (origin !== undefined && deps.allowedOrigins !== '*' && !deps.allowedOrigins.has(origin)) {
      return refuse(403, 'origin_not_allowed', `origin ${origin} is not allowed`);
    }

    const token = tokenOf(request);
    if (typeof token === 'object') return refuse(401, token.reason, token.message);
    let identity;
    try {
      identity = await deps.verifier.verify(token);
    } catch (error) {
      if (error instanceof AuthError) return refuse(401, error.reason, error.message);
      if (error instanceof KeysUnavailableError) return refuse(503, 'not_ready', error.message);
      throw error;
    }
    // Checked after the await: the verification may have let other upgrades through meanwhile.
    if (deps.isDraining()) return refuse(503, 'draining', 'this pod is shutting down; connect again');
    // A session reconnecting replaces its own socket: that never adds one to the user's count.
    const replaces = deps.hub.session(identity.userId, identity.sessionId) !== undefined;
    if (!replaces && deps.hub.socketCount(identity.userId) >= deps.maxSocketsPerUser) {
      return refuse(429, 'too_many_sockets', `user has ${deps.maxSocketsPerUser} sockets on this pod already`);
    }
    // The client saw an event this pod has not routed yet (it was on a pod further ahead): wait
    // for it, so that nothing it had is sent again. Past the wait the resume is a gap.
    let fromLog: MissedFromLog<EngineFrame> | undefined;
    if (since && deps.recovery && since.epoch === deps.recovery.epoch) {
      const reached = deps.recovery.reach(since.seq, CATCH_UP_WAIT_MS);
      if (reached === 'too_many') return refuse(503, 'not_ready', 'too many resumes are waiting on this pod; connect again');
      await reached;
      // Older than this pod's memory: read it from the log now, the index serves the rest at open.
      const read = await deps.recovery.fromLog(identity.userId, identity.sessionId, since);
      if (read === 'too_many') return refuse(503, 'not_ready', 'too many resumes are reading the log on this pod; connect again');
      fromLog = read;
      if (deps.isDraining()) return refuse(503, 'draining', 'this pod is shutting down; connect again');
    }
    return {
      accept: true,
      data: {
        userId: identity.userId,
        sessionId: identity.sessionId,
        iat: identity.iat,
        seenAt: identity.seenAt,
        exp: identity.exp,
        expiryBucket: 0,
        expiryIndex: 0,
        socketKey: deps.nextSocketKey(),
        openedAt: 0,
        announced: false,
        resume: since ? { since, fromLog } : undefined,
        framesFullAt: 0,
      },
    };
  };
}

/**
 * The token from `Authorization: Bearer` (any case) or else `access_token`; undefined when
 * neither is there. An Authorization header of another scheme with no `access_token` beside it
 * is a refusal that names the scheme: the client sent a credential, just not a usable one.
 */
function tokenOf(request: UpgradeRequest): string | undefined | { reason: RefusalReason; message: string } {
  const authorization = readAuthorization(request.header('authorization'));
  if (authorization.kind === 'bearer') return authorization.token;
  const fromQuery = queryParameter(request, 'access_token');
  if (fromQuery) return fromQuery;
  if (authorization.kind === 'none') return undefined;
  if (authorization.scheme.toLowerCase() === 'bearer') {
    return { reason: 'missing_token', message: 'the Authorization header says Bearer but carries no token' };
  }
  return {
    reason: 'invalid_token',
    message: `the Authorization header uses the ${authorization.scheme.slice(0, 32)} scheme: send Authorization: Bearer <jwt> or access_token`,
  };
}

function queryParameter(request: UpgradeRequest, name: string): string | null {
  const query = request.url.indexOf('?');
  if (query === -1) return null;
  return new URLSearchParams(request.url.slice(query + 1)).get(name);
}
