import { Disconnect } from '../protocol/close-codes.js';
import type { SessionOpenedHeader } from '../protocol/bus-format.js';
import type { Hub } from './hub.js';
import type { SocketState } from './socket-state.js';

/** How long an announcement heard for a session this pod holds no socket of is remembered (an upgrade may be in flight). */
const REMEMBER_MS = 30_000;

type Claim = Pick<SocketState, 'openedAt' | 'socketKey'>;

/**
 * One socket per session across pods (§1): every pod announces the sockets it opens
 * (SessionOpened), and of two sockets of one user's session every pod keeps the same one.
 *
 * With an event log every pod reads the announcements in the log's one order, and the later
 * announcement wins: once a socket's own announcement has come back, any other announcement
 * of its session came later, so the local socket closes (4009); one that arrives before ours
 * came earlier, and its pod closes its socket when ours reaches it.
 *
 * Without a log (AMQP, NATS with recovery off) pods may read two announcements in different
 * orders, so every pod orders them alike instead: by `openedAt`, then `socketKey`. An
 * announcement heard while this pod holds no socket of that session is remembered for a while:
 * an upgrade of that session may be in flight here, and it must lose to a later claim too.
 */
export class SessionOwnership {
  private readonly heard = new Map<string, Claim & { heardAt: number }>();

  constructor(private readonly hub: Hub) {}

  /** A SessionOpened from the bus, this pod's own included; `seq` is its log position (0 without a log). */
  announced(header: SessionOpenedHeader, seq: number, nowMs = Date.now()): void {
    // Without userId: a message from a pod that kept sessions by id alone.
    const locals =
      header.userId === undefined
        ? this.hub.sessionsWithId(header.sessionId)
        : [this.hub.session(header.userId, header.sessionId)].filter((s) => s !== undefined);
    for (const local of locals) {
      if (local.data.socketKey === header.socketKey) {
        local.data.announced = true;
        continue;
      }
      if (seq > 0 ? local.data.announced : later(header, local.data)) local.end(Disconnect.Replaced);
    }
    // Only a session this pod holds no socket of: its own socket's echo (every socket, at open)
    // would keep a claim per socket for REMEMBER_MS, and could make a newer socket of the session
    // opened here in the same millisecond lose to it at open.
    if (seq === 0 && locals.length === 0 && header.userId !== undefined) {
      const key = sessionKey(header.userId, header.sessionId);
      this.heard.delete(key);
      this.heard.set(key, { openedAt: header.openedAt, socketKey: header.socketKey, heardAt: nowMs });
    }
  }

  /** At open, without a log: whether a claim already heard from another pod wins over this socket. */
  loses(state: SocketState): boolean {
    const heard = this.heard.get(sessionKey(state.userId, state.sessionId));
    return heard !== undefined && heard.socketKey !== state.socketKey && later(heard, state);
  }

  /** Forgets what no upgrade can still be waiting for. */
  sweep(nowMs: number): void {
    for (const [key, claim] of this.heard) {
      if (claim.heardAt + REMEMBER_MS > nowMs) break;
      this.heard.delete(key);
    }
  }

  get remembered(): number {
    return this.heard.size;
  }
}

/** The order every pod computes alike without a log: opened later wins, then the larger socket key. */
function later(a: Claim, b: Claim): boolean {
  return a.openedAt > b.openedAt || (a.openedAt === b.openedAt && a.socketKey > b.socketKey);
}

const sessionKey = (userId: string, sessionId: string) => `${userId}\u0000${sessionId}`;
