import type { Revocations } from '../auth/revocations.js';
import type { Bus } from '../bus/bus.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { encodeBusMessage, MessageKind } from '../protocol/bus-format.js';
import { welcomeFrame } from '../protocol/client-frames.js';
import { Disconnect } from '../protocol/close-codes.js';
import type { Drain } from './drain.js';
import { ExpiryWheel } from './expiry-wheel.js';
import type { Hub } from './hub.js';
import type { Socket } from './socket-state.js';

export interface SocketLifecycleDeps {
  hub: Hub;
  revocations: Revocations;
  bus: Bus;
  drain: Drain;
  metrics: Metrics;
  log: Logger;
  heartbeatMs: number;
}

/**
 * What a socket holds and when it lets go. At open it takes a hub entry (by session and by
 * user), its user's topic and a place on the expiry wheel, and announces its session to the
 * other pods; at close, whoever closed it, it gives all of them back at once.
 */
export class SocketLifecycle {
  private readonly wheel = new ExpiryWheel<Socket>();

  constructor(private readonly deps: SocketLifecycleDeps) {}

  open(socket: Socket): void {
    const { hub, revocations, drain, bus, log } = this.deps;
    const state = socket.data;
    // A user disconnect or the drain's last sweep may have run between the upgrade and now.
    if (revocations.isRevoked(state.userId, state.iat)) return socket.end(Disconnect.UserInvalidated);
    if (drain.closingAll) return socket.end(Disconnect.PodRestart);

    state.openedAt = Date.now();
    hub.add(socket)?.end(Disconnect.Replaced);
    socket.subscribe(hub.user(state.userId)!.topic);
    state.expiryBucket = this.wheel.add(socket, state.exp);
    socket.send(welcomeFrame(state.userId, state.sessionId, this.deps.heartbeatMs));
    // Accepted just before the drain began: ask it to leave like the others.
    if (drain.draining) socket.send(drain.reconnectFrame());
    // Other pods close their socket of this session (4009); this pod ignores its own message.
    const opened = { sessionId: state.sessionId, socketKey: state.socketKey, openedAt: state.openedAt };
    bus.publish(encodeBusMessage(MessageKind.SessionOpened, opened)).catch((error) => {
      // No echo will come: let a later announcement from another pod replace this socket.
      state.announced = true;
      log.warn({ err: error, sessionId: state.sessionId }, 'could not announce a session to other pods');
    });
  }

  close(socket: Socket, code: number): void {
    this.deps.hub.remove(socket);
    this.wheel.remove(socket, socket.data.expiryBucket);
    this.deps.metrics.connectionsClosed.inc({ code: String(code) });
  }

  /** After a successful `herald.auth`: the socket lives until the new token's `exp`. */
  refreshExpiry(socket: Socket, exp: number): void {
    this.wheel.remove(socket, socket.data.expiryBucket);
    socket.data.exp = exp;
    socket.data.expiryBucket = this.wheel.add(socket, exp);
  }

  /** Closes (4001) every socket whose token expired by `nowSeconds`: the one timer for all sockets. */
  expireTokens(nowSeconds: number): void {
    for (const socket of this.wheel.takeExpired(nowSeconds)) socket.end(Disconnect.TokenExpired);
  }

  /** Sockets filed on the expiry wheel: zero once every socket has gone. */
  get expiryEntries(): number {
    return this.wheel.size;
  }
}
