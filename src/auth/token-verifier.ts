import { Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { errors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { AuthError, KeysUnavailableError } from '../errors.js';
import { IdString } from '../protocol/event.js';
import type { Revocations } from './revocations.js';
import type { VerificationKey } from './verification-key.js';

/** Who a verified token speaks for. Times are the token's, in seconds since the epoch. */
export interface Identity {
  userId: string;
  sessionId: string;
  iat: number;
  exp: number;
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
}

/**
 * Verifies client tokens: signature with an algorithm allow-list from the key, required
 * claims, issuer and audience when configured, and the revocation table on every call
 * (cached or not).
 */
export class TokenVerifier {
  private readonly cache = new Map<string, Identity>();
  private readonly cacheSize: number;

  constructor(
    private readonly key: VerificationKey,
    private readonly revocations: Revocations,
    private readonly options: TokenVerifierOptions = {},
  ) {
    this.cacheSize = options.cacheSize ?? 10_000;
  }

  async verify(token: string | undefined, nowMs = Date.now()): Promise<Identity> {
    if (!token) throw new AuthError('missing_token', 'a token is required (Authorization: Bearer or access_token)');
    const identity = this.cache.get(token) ?? (await this.verifySignature(token));
    if (identity.exp * 1000 <= nowMs) {
      this.cache.delete(token);
      throw new AuthError('token_expired', 'the token has expired');
    }
    if (this.revocations.isRevoked(identity.userId, identity.iat)) {
      throw new AuthError('token_revoked', 'the token was revoked: every session of this user was invalidated');
    }
    return identity;
  }

  private async verifySignature(token: string): Promise<Identity> {
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
      throw new AuthError('invalid_token', `claim ${first?.path.slice(1) ?? '?'}: ${first?.message ?? 'invalid'}`);
    }
    const identity: Identity = { userId: payload.sub, sessionId: payload.sid, iat: payload.iat, exp: payload.exp };
    this.revocations.noteTokenLifetime(identity.iat, identity.exp);
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
