import { Revocations, type Revocation, type TokenSighting } from '../auth/revocations.js';
import type { Identity } from '../auth/token-verifier.js';
import type { Logger } from '../log.js';
import { Disconnect } from '../protocol/close-codes.js';
import type { Hub } from './hub.js';
import type { Socket } from './socket-state.js';

export interface RevocationEnforcerDeps {
  hub: Hub;
  revocations: Revocations;
  /** The tokens this pod has verified and still caches, by user; all of them when `userId` is undefined. */
  cachedTokens(userId: string | undefined): Iterable<Identity>;
  /** Stores and publishes a revocation (the emitter's path): other pods, and pods started later, learn it. */
  share(revocation: Revocation): Promise<void>;
  log: Logger;
}

/** How a revocation closes the sockets it covers: a user disconnect with 4003, a logout with 1000. */
export function disconnectFor(revocation: Pick<Revocation, 'user'>): Disconnect {
  return revocation.user ? Disconnect.UserInvalidated : Disconnect.SessionClosed;
}

/**
 * What a pod does when its revocation table changes, whichever way the revocation came (its own
 * call, the bus or the event log, the store after a partition or at start): it closes the sockets
 * the revocation covers, and it makes every other pod refuse the tokens it saw before the call
 * whose `iat` the revocation's instant does not cover (issued by a clock ahead of the pods').
 * Other pods cannot know those tokens; this pod shares them as session revocations, stored
 * before the sockets holding them close, so the client cannot come back through another pod.
 */
export class RevocationEnforcer {
  constructor(private readonly deps: RevocationEnforcerDeps) {
    deps.revocations.onChange((revocation) => this.enforce(revocation));
  }

  /** A token refused at verification only because a pod saw it by the call: share it. */
  sighted(identity: Identity, revocation: Revocation): void {
    const share = this.shareFor(revocation, [identity]);
    for (const one of share) this.publish(one, []);
  }

  private enforce(revocation: Revocation): void {
    const ahead: TokenSighting[] = [];
    const held: Socket[] = [];
    for (const socket of this.socketsIn(revocation)) {
      if (socket.closed || !Revocations.covers(revocation, socket.data)) continue;
      if (socket.data.iat * 1000 >= revocation.revokedAt) {
        ahead.push(socket.data);
        held.push(socket);
      } else {
        socket.end(disconnectFor(revocation));
      }
    }
    for (const identity of this.deps.cachedTokens(revocation.userId)) {
      if (Revocations.inScope(revocation, identity) && Revocations.covers(revocation, identity) && identity.iat * 1000 >= revocation.revokedAt) {
        ahead.push(identity);
      }
    }
    if (ahead.length === 0) return;
    const shares = this.shareFor(revocation, ahead);
    if (shares.length === 0) {
      for (const socket of held) socket.end(disconnectFor(revocation));
      return;
    }
    for (const share of shares) {
      this.publish(
        share,
        held.filter((socket) => Revocations.inScope(share, socket.data)),
      );
    }
  }

  /** One session revocation per session seen ahead, covering its latest token by `iat`; none where the table already does. */
  private shareFor(revocation: Revocation, tokens: Iterable<TokenSighting>): Revocation[] {
    const latest = new Map<string, TokenSighting>();
    for (const token of tokens) {
      const key = `${token.userId}\u0000${token.sessionId}`;
      const seen = latest.get(key);
      if (!seen || token.iat > seen.iat) latest.set(key, token);
    }
    const shares: Revocation[] = [];
    for (const token of latest.values()) {
      // Already covered by an instant (this revocation's, or one shared before): nothing to add.
      if (this.deps.revocations.check({ ...token, seenAt: Number.POSITIVE_INFINITY })) continue;
      shares.push({
        userId: token.userId,
        sessionId: token.sessionId,
        revokedAt: (Math.floor(token.iat) + 1) * 1000,
        calledAt: revocation.calledAt,
        user: revocation.user,
      });
    }
    return shares;
  }

  /** Stored first; the sockets holding those tokens close when the table takes it in (or at once if it cannot be stored). */
  private publish(share: Revocation, held: Socket[]): void {
    this.deps.share(share).then(
      () => {
        for (const socket of held) socket.end(disconnectFor(share));
      },
      (error: unknown) => {
        this.deps.log.error(
          { err: error, userId: share.userId, sessionId: share.sessionId },
          'could not share the revocation of a token ahead of the clock; it is refused on this pod only',
        );
        this.deps.revocations.apply(share);
        for (const socket of held) socket.end(disconnectFor(share));
      },
    );
  }

  private socketsIn(revocation: Pick<Revocation, 'userId' | 'sessionId'>): Socket[] {
    const { hub } = this.deps;
    const { userId, sessionId } = revocation;
    if (userId !== undefined && sessionId !== undefined) {
      const socket = hub.session(userId, sessionId);
      return socket ? [socket] : [];
    }
    if (userId !== undefined) return [...(hub.user(userId)?.sockets ?? [])];
    return sessionId !== undefined ? [...hub.sessionsWithId(sessionId)] : [];
  }
}
