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
  override readonly name = 'BusUnavailableError';
  constructor(message = 'the event bus is down', options?: { cause?: unknown }) {
    super(message, options);
  }
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

/** A user or session id that no token can carry (not 1–128 characters of well-formed Unicode without control characters): 400 over HTTP. */
export class InvalidIdError extends TypeError {
  override readonly name = 'InvalidIdError';
}

/** A request body the API cannot act on (a disconnect's `issuedBefore`): 400 over HTTP, nothing was done. */
export class InvalidRequestError extends TypeError {
  override readonly name = 'InvalidRequestError';
}
