/**
 * Typed failures. Each is turned into an HTTP status or a close code in one place:
 * http/api.ts for the publisher API, gateway/upgrade-policy.ts for socket upgrades,
 * gateway/client-frame-handler.ts for token refreshes.
 */

export type AuthFailure =
  | 'missing_token'
  | 'invalid_token'
  | 'token_expired'
  | 'token_revoked'
  | 'token_iat_in_future'
  | 'token_lifetime_too_long';

/** A client token was refused: 401 at the upgrade, 4001 on a refresh. */
export class AuthError extends Error {
  override readonly name = 'AuthError';
  constructor(
    readonly reason: AuthFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The keys that verify tokens cannot be had now (JWKS endpoint down): 503, the token may be fine. */
export class KeysUnavailableError extends Error {
  override readonly name = 'KeysUnavailableError';
}

/** The bus cannot take a message now: nothing was sent. Publishes answer 503. */
export class BusUnavailableError extends Error {
  override readonly name: string = 'BusUnavailableError';
  constructor(message = 'the event bus is down', options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * The broker answered but refused the credentials of HERALD_NATS_URL / HERALD_AMQP_URL: the bus
 * is as unavailable as with an unreachable broker, but only the credentials (or the broker's
 * users) changing will help.
 */
export class BrokerAuthenticationError extends BusUnavailableError {
  override readonly name = 'BrokerAuthenticationError';
}

/** The environment does not describe a runnable gateway: one line per bad variable, exit 2. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
  }
}

/** One bus message is over what the broker takes (NATS max_payload): 413, nothing was sent. */
export class MessageTooLargeError extends Error {
  override readonly name = 'MessageTooLargeError';
}

/** A request body over its limit (413). */
export class PayloadTooLargeError extends Error {
  override readonly name = 'PayloadTooLargeError';
}

/** A socket engine cannot run here: its native addon is missing, or it cannot listen. */
export class EngineError extends Error {
  override readonly name = 'EngineError';
}

/** Why a listen failed, as the operator fixes it. */
export type ListenFailure =
  /** Another process holds the port. */
  | 'address_in_use'
  /** The host does not resolve, or is not an address of this machine. */
  | 'bad_host'
  /** The port needs privileges this process does not have. */
  | 'permission_denied'
  | 'unknown';

/** The engine could not listen on HERALD_HOST:HERALD_PORT; main.ts says why in one line. */
export class ListenError extends Error {
  override readonly name = 'ListenError';
  constructor(
    readonly failure: ListenFailure,
    readonly host: string,
    readonly port: number,
    /** The errno code (`EADDRINUSE`…) when the runtime gave one. */
    readonly code: string | undefined,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * A request body that did not arrive: the client stopped sending it (`stalled`, answered 408
 * while the connection is still there) or the connection went away (`cut`).
 */
export class IncompleteBodyError extends Error {
  override readonly name = 'IncompleteBodyError';
  constructor(
    readonly reason: 'stalled' | 'cut',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A user or session id that no token can carry (not 1–128 characters of well-formed Unicode without control characters): 400 over HTTP. */
export class InvalidIdError extends TypeError {
  override readonly name = 'InvalidIdError';
}

/** A request body the API cannot act on (a disconnect's `issuedBefore`): 400 over HTTP, nothing was done. */
export class InvalidRequestError extends TypeError {
  override readonly name = 'InvalidRequestError';
}
