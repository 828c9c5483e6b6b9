import type { Socket } from './socket-state.js';

/**
 * A user's local sockets, one per session, and the uWebSockets topic they are subscribed to.
 * Most users hold one socket on a pod: that one is kept as it is, and a Map appears only for a
 * second session. The entry is both views the router reads (`sockets` to count and close,
 * `sessions` to find the origin socket), since one socket per session makes them the same set.
 */
export class UserEntry implements Iterable<Socket> {
  private one: Socket | undefined;
  private many: Map<string, Socket> | undefined;

  constructor(
    readonly topic: string,
    first: Socket,
  ) {
    this.one = first;
  }

  get sockets(): UserEntry {
    return this;
  }

  get sessions(): UserEntry {
    return this;
  }

  get size(): number {
    return this.one ? 1 : (this.many?.size ?? 0);
  }

  get(sessionId: string): Socket | undefined {
    if (this.one) return this.one.data.sessionId === sessionId ? this.one : undefined;
    return this.many?.get(sessionId);
  }

  /** Adds a socket of a session this entry does not hold (the hub removes the one it replaces first). */
  add(socket: Socket): void {
    if (this.one) {
      this.many = new Map([[this.one.data.sessionId, this.one]]);
      this.one = undefined;
    }
    if (this.many) this.many.set(socket.data.sessionId, socket);
    else this.one = socket;
  }

  /** Removes this very socket; false when it is not held (already removed, or replaced). */
  delete(socket: Socket): boolean {
    if (this.one) {
      if (this.one !== socket) return false;
      this.one = undefined;
      return true;
    }
    const { sessionId } = socket.data;
    if (this.many?.get(sessionId) !== socket) return false;
    this.many.delete(sessionId);
    if (this.many.size === 1) {
      this.one = this.many.values().next().value;
      this.many = undefined;
    }
    return true;
  }

  *[Symbol.iterator](): Iterator<Socket> {
    if (this.one) yield this.one;
    else if (this.many) yield* this.many.values();
  }
}

/**
 * The sockets this pod holds, by user and session. A session belongs to a user: one socket per
 * (user, session), and adding a socket for a session that has one returns the old socket, which
 * the caller closes; another user's session of the same id is another session. Entries go the
 * moment a socket closes, so an empty hub means nothing is held.
 */
export class Hub {
  private readonly byUser = new Map<string, UserEntry>();
  /**
   * Every user's socket of a session id, for disconnects of that id whoever the user is: the
   * socket itself while only one user has a session of that id (nearly always), else an array.
   */
  private readonly bySessionId = new Map<string, Socket | Socket[]>();
  private count = 0;

  /** Registers an open socket; returns the socket of the same user and session it replaces, if any. */
  add(socket: Socket): Socket | undefined {
    const { userId, sessionId } = socket.data;
    const previous = this.byUser.get(userId)?.get(sessionId);
    if (previous) this.remove(previous);
    const entry = this.byUser.get(userId);
    if (entry) entry.add(socket);
    else this.byUser.set(userId, new UserEntry(userTopic(userId), socket));
    const sameId = this.bySessionId.get(sessionId);
    if (sameId === undefined) this.bySessionId.set(sessionId, socket);
    else if (Array.isArray(sameId)) sameId.push(socket);
    else this.bySessionId.set(sessionId, [sameId, socket]);
    this.count++;
    return previous;
  }

  /** Forgets a socket; a no-op for one already removed or replaced. */
  remove(socket: Socket): void {
    const { userId, sessionId } = socket.data;
    const entry = this.byUser.get(userId);
    if (!entry?.delete(socket)) return;
    this.count--;
    if (entry.size === 0) this.byUser.delete(userId);
    const sameId = this.bySessionId.get(sessionId);
    if (sameId === socket) this.bySessionId.delete(sessionId);
    else if (Array.isArray(sameId)) {
      sameId.splice(sameId.indexOf(socket), 1);
      if (sameId.length === 1) this.bySessionId.set(sessionId, sameId[0]!);
    }
  }

  /** The socket of one user's session. */
  session(userId: string, sessionId: string): Socket | undefined {
    return this.byUser.get(userId)?.get(sessionId);
  }

  /** The sockets of a session id, whatever their user. */
  sessionsWithId(sessionId: string): readonly Socket[] {
    const sameId = this.bySessionId.get(sessionId);
    if (sameId === undefined) return [];
    return Array.isArray(sameId) ? [...sameId] : [sameId];
  }

  user(userId: string): UserEntry | undefined {
    return this.byUser.get(userId);
  }

  socketCount(userId: string): number {
    return this.byUser.get(userId)?.size ?? 0;
  }

  *sockets(): IterableIterator<Socket> {
    for (const entry of this.byUser.values()) yield* entry;
  }

  get size(): number {
    return this.count;
  }

  /** Distinct users with a socket here: the number of live uWebSockets topics. */
  get userCount(): number {
    return this.byUser.size;
  }
}

export function userTopic(userId: string): string {
  return `u:${userId}`;
}
