import type { Socket } from './socket-state.js';

/** A user's local sockets and the uWebSockets topic they are subscribed to. */
export interface UserEntry {
  readonly topic: string;
  readonly sockets: Set<Socket>;
}

/**
 * The sockets this pod holds, by session and by user. One socket per session: adding a
 * socket for a session that has one returns the old socket, which the caller closes.
 * Entries go the moment a socket closes, so an empty hub means nothing is held.
 */
export class Hub {
  private readonly bySession = new Map<string, Socket>();
  private readonly byUser = new Map<string, UserEntry>();

  /** Registers an open socket; returns the socket it replaces, if any. */
  add(socket: Socket): Socket | undefined {
    const { userId, sessionId } = socket.data;
    const previous = this.bySession.get(sessionId);
    if (previous) this.remove(previous);
    this.bySession.set(sessionId, socket);
    let entry = this.byUser.get(userId);
    if (!entry) {
      entry = { topic: userTopic(userId), sockets: new Set() };
      this.byUser.set(userId, entry);
    }
    entry.sockets.add(socket);
    return previous;
  }

  /** Forgets a socket; a no-op for one already removed or replaced. */
  remove(socket: Socket): void {
    const { userId, sessionId } = socket.data;
    if (this.bySession.get(sessionId) === socket) this.bySession.delete(sessionId);
    const entry = this.byUser.get(userId);
    if (entry?.sockets.delete(socket) && entry.sockets.size === 0) this.byUser.delete(userId);
  }

  session(sessionId: string): Socket | undefined {
    return this.bySession.get(sessionId);
  }

  user(userId: string): UserEntry | undefined {
    return this.byUser.get(userId);
  }

  socketCount(userId: string): number {
    return this.byUser.get(userId)?.sockets.size ?? 0;
  }

  sockets(): IterableIterator<Socket> {
    return this.bySession.values();
  }

  get size(): number {
    return this.bySession.size;
  }

  /** Distinct users with a socket here: the number of live uWebSockets topics. */
  get userCount(): number {
    return this.byUser.size;
  }
}

export function userTopic(userId: string): string {
  return `u:${userId}`;
}
