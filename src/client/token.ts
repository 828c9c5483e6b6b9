import { TokenError } from './errors.js';

export interface TokenTimes {
  /** Seconds since the epoch. */
  exp: number;
  /** Seconds since the epoch, when the token carries it. */
  iat: number | undefined;
}

/**
 * Reads `exp` (and `iat`) from a JWT's payload WITHOUT verifying it: the client only needs to
 * know when to refresh; the server is the one that verifies.
 */
export function readTokenTimes(token: string): TokenTimes {
  const payload = token.split('.')[1];
  if (token.split('.').length !== 3 || !payload) throw new TokenError('the token is not a JWT (expected three dot-separated parts)');
  let claims: unknown;
  try {
    claims = JSON.parse(decodeBase64Url(payload));
  } catch (error) {
    throw new TokenError('the token payload is not base64url JSON', { cause: error });
  }
  const { exp, iat } = (claims ?? {}) as { exp?: unknown; iat?: unknown };
  if (typeof exp !== 'number' || !Number.isFinite(exp)) throw new TokenError('the token has no numeric exp claim');
  return { exp, iat: typeof iat === 'number' && Number.isFinite(iat) ? iat : undefined };
}

function decodeBase64Url(text: string): string {
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(text.length / 4) * 4, '=');
  const binary = atob(base64);
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

/** The shortest wait between two refreshes, so a token function that keeps returning stale tokens cannot spin. */
export const MIN_REFRESH_DELAY_MS = 1_000;

/**
 * Milliseconds from `nowMs` until the token should be refreshed: `leadMs` before `exp`. The
 * default lead is a quarter of the token's lifetime, between 1 s and 60 s, so an hour-long
 * token refreshes a minute early and a 4-second one a second early.
 */
export function refreshDelayMs(times: TokenTimes, nowMs: number, leadMs?: number): number {
  const expMs = times.exp * 1000;
  const lifetimeMs = expMs - (times.iat !== undefined ? times.iat * 1000 : nowMs);
  const lead = leadMs ?? Math.min(60_000, Math.max(1_000, lifetimeMs / 4));
  return Math.max(MIN_REFRESH_DELAY_MS, Math.floor(expMs - lead - nowMs));
}
