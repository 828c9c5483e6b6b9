/** HERALD_JWT_MAX_LIFETIME_S and HERALD_JWT_CLOCK_SKEW_S defaults (contract §4). */
export const DEFAULT_MAX_TOKEN_LIFETIME_S = 30 * 24 * 3600;
export const DEFAULT_CLOCK_SKEW_S = 30;
/** Their bounds: a revocation is kept for the lifetime plus twice the skew, which must fit a store's TTL. */
export const MAX_JWT_MAX_LIFETIME_S = 366 * 24 * 3600;
export const MAX_JWT_CLOCK_SKEW_S = 3600;
/** The longest keep any configuration allows: a store TTL beyond it was never set by configuration. */
export const MAX_REVOCATION_KEEP_MS = (MAX_JWT_MAX_LIFETIME_S + 2 * MAX_JWT_CLOCK_SKEW_S) * 1000;

/**
 * "These tokens are refused from now on", as a disconnect makes it. Its scope is a user
 * (`userId` alone), one session of a user (both), or a session id of every user (`sessionId`
 * alone). A token in scope is revoked when its `iat` instant is earlier than `revokedAt`, or
 * when a pod saw it (open, cached, or being verified) by `calledAt`: a token issued by a clock
 * ahead of the pods' is covered that way.
 */
export interface Revocation {
  userId?: string;
  sessionId?: string;
  /** Tokens whose `iat` instant (ms) is earlier than this are refused. */
  revokedAt: number;
  /** When the disconnect was made, ms by the emitting pod's clock. */
  calledAt: number;
  /** A user disconnect (sockets close with 4003), or part of one; else a session logout (1000). */
  user: boolean;
}

/** A token as the revocation check sees it: whose it is, when it says it was issued, when a pod first saw it. */
export interface TokenSighting {
  userId: string;
  sessionId: string;
  /** Seconds since the epoch, as the token says. */
  iat: number;
  /** Ms since the epoch, by this pod's clock: when a pod began verifying it. */
  seenAt: number;
}

interface Entry {
  revokedAt: number;
  calledAt: number;
  user: boolean;
}

export interface RevocationsOptions {
  /** The longest token lifetime accepted (HERALD_JWT_MAX_LIFETIME_S), ms. */
  maxTokenLifetimeMs?: number;
  /** How far a token's `iat` may be ahead (HERALD_JWT_CLOCK_SKEW_S), ms. */
  clockSkewMs?: number;
}

/** The key of one session of one user: ids never hold control characters, so NUL separates them. */
const sessionKey = (userId: string, sessionId: string) => `${userId}\u0000${sessionId}`;

/**
 * The pod's revocation table: every revocation in force, by user, by session of a user, and by
 * session id. An entry lives until every token it can cover has expired (the longest lifetime
 * accepted after its instants), so the table stays bounded. Nothing a token says changes how
 * long an entry is kept.
 */
export class Revocations {
  private readonly users = new Map<string, Entry>();
  private readonly userSessions = new Map<string, Entry>();
  private readonly sessions = new Map<string, Entry>();
  private readonly listeners: ((revocation: Revocation) => void)[] = [];
  private readonly maxTokenLifetimeMs: number;
  private readonly clockSkewMs: number;

  constructor(options: RevocationsOptions = {}) {
    this.maxTokenLifetimeMs = options.maxTokenLifetimeMs ?? DEFAULT_MAX_TOKEN_LIFETIME_S * 1000;
    this.clockSkewMs = options.clockSkewMs ?? DEFAULT_CLOCK_SKEW_S * 1000;
  }

  /**
   * Takes a revocation in (from the bus, a store, or this pod's own call). Returns true when it
   * changed the table; listeners then hear the revocation as it now stands for its scope.
   */
  apply(revocation: Revocation): boolean {
    const { map, key } = this.slot(revocation);
    if (key === undefined) return false;
    const current = map.get(key);
    if (
      current !== undefined &&
      current.revokedAt >= revocation.revokedAt &&
      current.calledAt >= revocation.calledAt &&
      (current.user || !revocation.user)
    ) {
      return false;
    }
    const merged: Entry = {
      revokedAt: Math.max(current?.revokedAt ?? 0, revocation.revokedAt),
      calledAt: Math.max(current?.calledAt ?? 0, revocation.calledAt),
      user: (current?.user ?? false) || revocation.user,
    };
    map.set(key, merged);
    const { userId, sessionId } = revocation;
    for (const listener of this.listeners) listener({ userId, sessionId, ...merged });
    return true;
  }

  /** Called with every change `apply` makes (the gateway closes the sockets it covers). */
  onChange(listener: (revocation: Revocation) => void): void {
    this.listeners.push(listener);
  }

  /** The revocation that refuses this token, if any: the user's first, then its session's. */
  check(token: TokenSighting): Revocation | undefined {
    const { userId, sessionId } = token;
    const byUser = this.users.get(userId);
    if (byUser && covers(byUser, token)) return { userId, ...byUser };
    const bySession = this.userSessions.get(sessionKey(userId, sessionId));
    if (bySession && covers(bySession, token)) return { userId, sessionId, ...bySession };
    const anyUser = this.sessions.get(sessionId);
    if (anyUser && covers(anyUser, token)) return { sessionId, ...anyUser };
    return undefined;
  }

  /** Whether a token is in the revocation's scope (whether or not the revocation covers it). */
  static inScope(revocation: Pick<Revocation, 'userId' | 'sessionId'>, token: Pick<TokenSighting, 'userId' | 'sessionId'>): boolean {
    return (
      (revocation.userId === undefined || revocation.userId === token.userId) &&
      (revocation.sessionId === undefined || revocation.sessionId === token.sessionId)
    );
  }

  /** Whether the revocation covers a token in its scope. */
  static covers(revocation: Pick<Revocation, 'revokedAt' | 'calledAt'>, token: Pick<TokenSighting, 'iat' | 'seenAt'>): boolean {
    return covers(revocation, token);
  }

  /** Drops the entries that can no longer cover an unexpired token. */
  sweep(nowMs: number): void {
    for (const map of [this.users, this.userSessions, this.sessions]) {
      for (const [key, entry] of map) if (this.keepUntil(entry) <= nowMs) map.delete(key);
    }
  }

  /** After this instant a revocation covers no token the pods accept: what a store keeps it for. */
  keepUntil(revocation: Pick<Revocation, 'revokedAt' | 'calledAt'>): number {
    // Covered by iat: iat < revokedAt, so exp < revokedAt + the longest lifetime. Covered by
    // sight: seen by calledAt, so iat ≤ calledAt + skew and exp ≤ that + the longest lifetime.
    return Math.max(revocation.revokedAt, revocation.calledAt + this.clockSkewMs) + this.maxTokenLifetimeMs;
  }

  /** How long a revocation made now must be kept (a store's TTL): fixed by configuration, never by a token. */
  get keepMs(): number {
    return this.maxTokenLifetimeMs + 2 * this.clockSkewMs;
  }

  get size(): number {
    return this.users.size + this.userSessions.size + this.sessions.size;
  }

  private slot(revocation: Pick<Revocation, 'userId' | 'sessionId'>): { map: Map<string, Entry>; key: string | undefined } {
    const { userId, sessionId } = revocation;
    if (sessionId === undefined) return { map: this.users, key: userId };
    if (userId === undefined) return { map: this.sessions, key: sessionId };
    return { map: this.userSessions, key: sessionKey(userId, sessionId) };
  }
}

function covers(revocation: Pick<Revocation, 'revokedAt' | 'calledAt'>, token: Pick<TokenSighting, 'iat' | 'seenAt'>): boolean {
  return token.iat * 1000 < revocation.revokedAt || token.seenAt <= revocation.calledAt;
}
