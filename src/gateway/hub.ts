import type { Socket } from './socket-state.js';

/** A user's local sockets, by session, and the uWebSockets topic they are subscribed to. */
export interface UserEntry {
  readonly topic: string;
  readonly sockets: Set<Socket>;
  readonly sessions: Map<string, Socket>;
}

/**
 * The sockets this pod holds, by user and session. A session belongs to a user: one socket per
 * (user, session), and adding a socket for a session that has one returns the old socket, which
 * the caller closes; another user's session of the same id is another session. Entries go the
 * moment a socket closes, so an empty hub means nothing is held.
 */
export class Hub {
  private readonly byUser = new Map<string, UserEntry>();
  /** Every user's socket of a session id: for disconnects of that id whoever the user is. */
  private readonly bySessionId = new Map<string, Set<Socket>>();
  private count = 0;

  /** Registers an open socket; returns the socket of the same user and session it replaces, if any. */
  add(socket: Socket): Socket | undefined {
    const { userId, sessionId } = socket.data;
    const previous = this.byUser.get(userId)?.sessions.get(sessionId);
    if (previous) this.remove(previous);
    let entry = this.byUser.get(userId);
    if (!entry) {
      entry = { topic: userTopic(userId), sockets: new Set(), sessions: new Map() };
      this.byUser.set(userId, entry);
    }
    entry.sockets.add(socket);
    entry.sessions.set(sessionId, socket);
    let sameId = this.bySessionId.get(sessionId);
    if (!sameId) this.bySessionId.set(sessionId, (sameId = new Set()));
    sameId.add(socket);
    this.count++;
    return previous;
  }

  /** Forgets a socket; a no-op for one already removed or replaced. */
  remove(socket: Socket): void {
    const { userId, sessionId } = socket.data;
    const entry = this.byUser.get(userId);
    if (!entry?.sockets.delete(socket)) return;
    this.count--;
    if (entry.sessions.get(sessionId) === socket) entry.sessions.delete(sessionId);
    if (entry.sockets.size === 0) this.byUser.delete(userId);
    const sameId = this.bySessionId.get(sessionId);
    if (sameId?.delete(socket) && sameId.size === 0) this.bySessionId.delete(sessionId);
  }

  /** The socket of one user's session. */
  session(userId: string, sessionId: string): Socket | undefined {
    return this.byUser.get(userId)?.sessions.get(sessionId);
  }

  /** The sockets of a session id, whatever their user. */
  sessionsWithId(sessionId: string): ReadonlySet<Socket> {
    return this.bySessionId.get(sessionId) ?? EMPTY;
  }

  user(userId: string): UserEntry | undefined {
    return this.byUser.get(userId);
  }

  socketCount(userId: string): number {
    return this.byUser.get(userId)?.sockets.size ?? 0;
  }

  *sockets(): IterableIterator<Socket> {
    for (const entry of this.byUser.values()) yield* entry.sockets;
  }

  get size(): number {
    return this.count;
  }

  /** Distinct users with a socket here: the number of live uWebSockets topics. */
  get userCount(): number {
    return this.byUser.size;
  }
}

const EMPTY: ReadonlySet<Socket> = new Set();

export function userTopic(userId: string): string {
  return `u:${userId}`;
}
