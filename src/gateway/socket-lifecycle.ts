import type { Revocations } from '../auth/revocations.js';
import type { Bus } from '../bus/bus.js';
import type { EngineFrame } from '../engine/engine.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { MessageKind, outgoingControl } from '../protocol/bus-format.js';
import { welcomeFrame } from '../protocol/client-frames.js';
import { Disconnect } from '../protocol/close-codes.js';
import type { Recovery, Resume } from '../recovery/recovery.js';
import type { Drain } from './drain.js';
import { ExpiryWheel } from './expiry-wheel.js';
import type { Hub } from './hub.js';
import { disconnectFor } from './revocation-enforcer.js';
import type { SessionOwnership } from './session-ownership.js';
import type { Socket } from './socket-state.js';

export interface SocketLifecycleDeps {
  hub: Hub;
  revocations: Revocations;
  sessions: SessionOwnership;
  bus: Bus;
  drain: Drain;
  metrics: Metrics;
  log: Logger;
  heartbeatMs: number;
  /** The pod's view of the event log, when recovery is on. */
  recovery?: Recovery<EngineFrame>;
}

/** Without recovery: no position to give, and every resume is a gap (§6). */
const NO_RECOVERY: Resume<EngineFrame> = { welcome: {}, events: [] };
const NO_RECOVERY_RESUME: Resume<EngineFrame> = { welcome: { gap: true, replayed: 0 }, events: [] };

/**
 * What a socket holds and when it lets go. At open it takes a hub entry (by session and by
 * user), its user's topic and a place on the expiry wheel, gets what it missed (a resume), and
 * announces its session to the other pods; at close, whoever closed it, it gives all of them
 * back at once.
 */
export class SocketLifecycle {
  private readonly wheel = new ExpiryWheel<Socket>((socket) => socket.data);

  constructor(private readonly deps: SocketLifecycleDeps) {}

  open(socket: Socket): void {
    const { hub, revocations, sessions, drain, bus, log } = this.deps;
    const state = socket.data;
    // A user disconnect, a session logout or the drain's last sweep may have run between the upgrade and now.
    const revocation = revocations.check(state);
    if (revocation) return socket.end(disconnectFor(revocation));
    if (drain.closingAll) return socket.end(Disconnect.PodRestart);

    state.openedAt = Date.now();
    hub.add(socket)?.end(Disconnect.Replaced);
    // Subscribed, then the log position read, the welcome and the replay sent, with no await in
    // between: every event after that position reaches the socket through the topic, after the
    // replay, and none before it does (uWebSockets attributes a publish to its subscribers then).
    socket.subscribe(hub.user(state.userId)!.topic);
    this.wheel.add(socket, state.exp);
    const resume = this.deps.recovery
      ? this.deps.recovery.resume(state.userId, state.sessionId, state.resume?.since, state.resume?.fromLog)
      : state.resume
        ? NO_RECOVERY_RESUME
        : NO_RECOVERY;
    state.resume = undefined;
    const { userId, sessionId } = state;
    socket.send(welcomeFrame({ userId, sessionId, heartbeatMs: this.deps.heartbeatMs, ...resume.welcome }));
    for (const event of resume.events) {
      // A replay over the engine's send-buffer limit: the engine drops the frames past it. The
      // socket must not stay open with a hole in it; a slow-consumer close makes the client
      // resume from the last event it got, and each round gets further.
      if (socket.sendFrame(event.frame) === 'dropped') {
        this.deps.metrics.slowConsumers.inc();
        return socket.end(Disconnect.SlowConsumer);
      }
    }
    // Accepted just before the drain began: ask it to leave like the others.
    if (drain.draining) socket.send(drain.reconnectFrame());
    // Other pods close their socket of this session (4009); this pod ignores its own message.
    const opened = { sessionId, userId, socketKey: state.socketKey, openedAt: state.openedAt };
    bus.publish(outgoingControl(MessageKind.SessionOpened, opened)).catch((error) => {
      // No echo will come: let a later announcement from another pod replace this socket.
      state.announced = true;
      log.warn({ err: error, sessionId: state.sessionId }, 'could not announce a session to other pods');
    });
    // Without a log: another pod's socket of this session, announced while this upgrade was in flight, is the newer one.
    if (sessions.loses(state)) socket.end(Disconnect.Replaced);
  }

  close(socket: Socket, code: number): void {
    this.deps.hub.remove(socket);
    this.wheel.remove(socket);
    this.deps.metrics.connectionsClosed.inc({ code: String(code) });
  }

  /** After a successful `herald.auth`: the socket holds the new token, and lives until its `exp`. */
  refreshToken(socket: Socket, token: { iat: number; exp: number; seenAt: number }): void {
    socket.data.iat = token.iat;
    socket.data.seenAt = token.seenAt;
    socket.data.exp = token.exp;
    this.wheel.add(socket, token.exp);
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
