/** The shortest time a revocation is kept, whatever token lifetimes were seen: a day. */
export const MIN_REVOCATION_KEEP_MS = 24 * 60 * 60 * 1000;

/**
 * Users whose tokens issued before a moment are refused (the password-reset case).
 * An entry lives until every token it can cover has expired: its moment plus the longest
 * token lifetime seen (never less than `minKeepMs`, a day by default, so a long-lived token this
 * pod has not seen yet is still covered), so the table stays bounded.
 */
export class Revocations {
  private readonly revokedAtByUser = new Map<string, number>();
  private longestLifetimeMs: number;

  constructor(minKeepMs = MIN_REVOCATION_KEEP_MS) {
    this.longestLifetimeMs = minKeepMs;
  }

  /** Called for every verified token, before the revocation check. */
  noteTokenLifetime(iatSeconds: number, expSeconds: number): void {
    const lifetimeMs = (expSeconds - iatSeconds) * 1000;
    if (lifetimeMs > this.longestLifetimeMs) this.longestLifetimeMs = lifetimeMs;
  }

  /** Tokens of `userId` whose `iat` instant is earlier than `revokedAtMs` are refused from now on. */
  revoke(userId: string, revokedAtMs: number): void {
    const current = this.revokedAtByUser.get(userId);
    if (current === undefined || revokedAtMs > current) this.revokedAtByUser.set(userId, revokedAtMs);
  }

  isRevoked(userId: string, iatSeconds: number): boolean {
    const revokedAt = this.revokedAtByUser.get(userId);
    return revokedAt !== undefined && iatSeconds * 1000 < revokedAt;
  }

  /** Drops the entries that can no longer cover an unexpired token. */
  sweep(nowMs: number): void {
    for (const [userId, revokedAt] of this.revokedAtByUser) {
      if (revokedAt + this.longestLifetimeMs <= nowMs) this.revokedAtByUser.delete(userId);
    }
  }

  /** How long a revocation made now must be kept: what a replicated store uses as its TTL. */
  get keepMs(): number {
    return this.longestLifetimeMs;
  }

  get size(): number {
    return this.revokedAtByUser.size;
  }
}
