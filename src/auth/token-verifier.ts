import { Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { errors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { AuthError, KeysUnavailableError } from '../errors.js';
import { IdString } from '../protocol/event.js';
import { DEFAULT_CLOCK_SKEW_S, DEFAULT_MAX_TOKEN_LIFETIME_S, type Revocation, type Revocations } from './revocations.js';
import type { VerificationKey } from './verification-key.js';

/** Who a verified token speaks for. `iat` and `exp` are the token's, in seconds since the epoch. */
export interface Identity {
  userId: string;
  sessionId: string;
  iat: number;
  exp: number;
  /** When this pod began verifying the token the first time, ms by its clock. */
  seenAt: number;
}

const Claims = Type.Object({
  sub: IdString,
  sid: IdString,
  iat: Type.Number(),
  exp: Type.Number(),
});
const claimsValidator = TypeCompiler.Compile(Claims);

export interface TokenVerifierOptions {
  issuer?: string;
  audience?: string;
  /** Verified tokens kept to make reconnect storms cheap; each is dropped at its `exp`. */
  cacheSize?: number;
  /** HERALD_JWT_CLOCK_SKEW_S: how far in the future an `iat` may be. */
  clockSkewS?: number;
  /** HERALD_JWT_MAX_LIFETIME_S: the longest `exp` − `iat` accepted. */
  maxLifetimeS?: number;
  /**
   * Told of a token refused only because a pod saw it by the time of a disconnect (its `iat`
   * is later than the revocation's instant): other pods cannot know it, so it must be shared.
   */
  onRevokedBySight?(identity: Identity, revocation: Revocation): void;
}

/**
 * Verifies client tokens: signature with an algorithm allow-list from the key, required
 * claims, issuer and audience when configured, an `iat` no further ahead than the allowed
 * skew, a lifetime no longer than the longest allowed, and the revocation table on every call
 * (cached or not), once the signature is checked: a disconnect made while a token was being
 * verified covers it.
 */
export class TokenVerifier {
  private readonly cache = new Map<string, Identity>();
  private readonly cacheSize: number;
  private readonly clockSkewS: number;
  private readonly maxLifetimeS: number;

  constructor(
    private readonly key: VerificationKey,
    private readonly revocations: Revocations,
    private readonly options: TokenVerifierOptions = {},
  ) {
    this.cacheSize = options.cacheSize ?? 10_000;
    this.clockSkewS = options.clockSkewS ?? DEFAULT_CLOCK_SKEW_S;
    this.maxLifetimeS = options.maxLifetimeS ?? DEFAULT_MAX_TOKEN_LIFETIME_S;
  }

  async verify(token: string | undefined, nowMs = Date.now()): Promise<Identity> {
    if (!token) throw new AuthError('missing_token', 'a token is required (Authorization: Bearer or access_token)');
    const identity = this.cache.get(token) ?? (await this.verifySignature(token, nowMs));
    if (identity.exp * 1000 <= nowMs) {
      this.cache.delete(token);
      throw new AuthError('token_expired', 'the token has expired');
    }
    const revocation = this.revocations.check(identity);
    if (revocation) {
      if (identity.iat * 1000 >= revocation.revokedAt) this.options.onRevokedBySight?.(identity, revocation);
      throw new AuthError(
        'token_revoked',
        revocation.user ? 'the token was revoked: every session of this user was invalidated' : 'the token was revoked: this session was logged out',
      );
    }
    return identity;
  }

  /**
   * The tokens this pod has verified and still caches for a user (every user's when `userId` is
   * undefined). A scan of the cache rather than an index by user: it runs once per revocation,
   * and an index would cost a Map entry per cached token for as long as it is cached.
   */
  *cachedFor(userId: string | undefined): IterableIterator<Identity> {
    for (const identity of this.cache.values()) if (userId === undefined || identity.userId === userId) yield identity;
  }

  private async verifySignature(token: string, seenAt: number): Promise<Identity> {
    let payload: unknown;
    try {
      ({ payload } = await jwtVerify(token, this.key.key as Uint8Array & JWTVerifyGetKey, {
        algorithms: this.key.algorithms,
        issuer: this.options.issuer,
        audience: this.options.audience,
        requiredClaims: ['sub', 'sid', 'iat', 'exp'],
      }));
    } catch (error) {
      if (error instanceof errors.JWTExpired) throw new AuthError('token_expired', 'the token has expired', { cause: error });
      // A JWKS that cannot be fetched says nothing about the token: refuse as "not ready", not 401.
      if (error instanceof errors.JWKSTimeout || !(error instanceof errors.JOSEError)) {
        throw new KeysUnavailableError('the token signing keys cannot be fetched now', { cause: error });
      }
      throw new AuthError('invalid_token', describeJoseError(error), { cause: error });
    }
    if (!claimsValidator.Check(payload)) {
      const first = claimsValidator.Errors(payload).First();
      const message = (first?.schema as { errorMessage?: string } | undefined)?.errorMessage ?? first?.message ?? 'invalid';
      throw new AuthError('invalid_token', `claim ${first?.path.slice(1) ?? '?'}: ${message}`);
    }
    const { sub, sid, iat, exp } = payload;
    if (iat > seenAt / 1000 + this.clockSkewS) {
      throw new AuthError('token_iat_in_future', `the token's iat is more than ${this.clockSkewS} s ahead of this server's clock`);
    }
    if (exp - iat > this.maxLifetimeS) {
      throw new AuthError('token_lifetime_too_long', `the token's lifetime (exp − iat) is over ${this.maxLifetimeS} s`);
    }
    const identity: Identity = { userId: sub, sessionId: sid, iat, exp, seenAt };
    this.remember(token, identity);
    return identity;
  }

  private remember(token: string, identity: Identity): void {
    if (this.cache.size >= this.cacheSize) {
      // Map keeps insertion order: the first key is the oldest entry.
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    this.cache.set(token, identity);
  }
}

function describeJoseError(error: unknown): string {
  if (error instanceof errors.JOSEAlgNotAllowed) return 'the token algorithm is not allowed';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'the token signature does not verify';
  if (error instanceof errors.JWTClaimValidationFailed) return `claim ${error.claim}: ${error.reason}`;
  if (error instanceof errors.JOSEError) return `the token is invalid (${error.code})`;
  return 'the token is invalid';
}
