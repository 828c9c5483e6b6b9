import type { TokenVerifier } from '../auth/token-verifier.js';
import type { UpgradeDecision, UpgradeRequest } from '../engine/engine.js';
import { AuthError, KeysUnavailableError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { Hub } from './hub.js';
import type { SocketState } from './socket-state.js';

export type RefusalReason =
  | 'draining'
  | 'not_ready'
  | 'at_capacity'
  | 'origin_not_allowed'
  | 'missing_token'
  | 'invalid_token'
  | 'token_expired'
  | 'token_revoked'
  | 'too_many_sockets';

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
}

/** Decides an upgrade before the socket opens; every refusal is plain HTTP with a JSON body. */
export function createUpgradePolicy(deps: UpgradePolicyDeps) {
  const refuse = (status: number, reason: RefusalReason, message: string): UpgradeDecision<SocketState> => {
    deps.metrics.upgradesRejected.inc({ reason });
    return { accept: false, status, body: JSON.stringify({ error: reason, message }) };
  };

  return async function decide(request: UpgradeRequest): Promise<UpgradeDecision<SocketState>> {
    if (deps.isDraining()) return refuse(503, 'draining', 'this pod is shutting down; connect again');
    if (!deps.isReady()) return refuse(503, 'not_ready', 'this pod is not ready (event bus down)');
    if (deps.hub.size >= deps.maxConnections) return refuse(503, 'at_capacity', 'this pod holds all the sockets it can');

    const origin = request.header('origin');
    if (origin !== undefined && deps.allowedOrigins !== '*' && !deps.allowedOrigins.has(origin)) {
      return refuse(403, 'origin_not_allowed', `origin ${origin} is not allowed`);
    }

    let identity;
    try {
      identity = await deps.verifier.verify(tokenOf(request));
    } catch (error) {
      if (error instanceof AuthError) return refuse(401, error.reason, error.message);
      if (error instanceof KeysUnavailableError) return refuse(503, 'not_ready', error.message);
      throw error;
    }
    // Checked after the await: the verification may have let other upgrades through meanwhile.
    if (deps.isDraining()) return refuse(503, 'draining', 'this pod is shutting down; connect again');
    // A session reconnecting replaces its own socket: that never adds one to the user's count.
    const replaces = deps.hub.session(identity.sessionId)?.data.userId === identity.userId;
    if (!replaces && deps.hub.socketCount(identity.userId) >= deps.maxSocketsPerUser) {
      return refuse(429, 'too_many_sockets', `user has ${deps.maxSocketsPerUser} sockets on this pod already`);
    }
    return {
      accept: true,
      data: {
        userId: identity.userId,
        sessionId: identity.sessionId,
        iat: identity.iat,
        exp: identity.exp,
        expiryBucket: 0,
        socketKey: deps.nextSocketKey(),
        openedAt: 0,
        announced: false,
        framesFullAt: 0,
      },
    };
  };
}

function tokenOf(request: UpgradeRequest): string | undefined {
  const authorization = request.header('authorization');
  if (authorization?.startsWith('Bearer ')) return authorization.slice(7).trim();
  const query = request.url.indexOf('?');
  if (query === -1) return undefined;
  return new URLSearchParams(request.url.slice(query + 1)).get('access_token') ?? undefined;
}
