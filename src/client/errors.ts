/** Every failure the client reports through `onError` is one of these. */
export class HeraldClientError extends Error {
  override readonly name: string = 'HeraldClientError';
}

/** The token function failed, or what it returned is not a JWT with an `exp`. */
export class TokenError extends HeraldClientError {
  override readonly name = 'TokenError';
}

/** The server sent a frame the client cannot read (not JSON, no `type`). The frame is dropped. */
export class ProtocolError extends HeraldClientError {
  override readonly name = 'ProtocolError';
}

/** An application handler threw; the client carries on with the next handler and frame. */
export class HandlerError extends HeraldClientError {
  override readonly name = 'HandlerError';
}

/** The client was used wrongly (no WebSocket available, a `herald.*` type passed to `on`). */
export class UsageError extends HeraldClientError {
  override readonly name = 'UsageError';
}
