import type { Revocations } from '../auth/revocations.js';
import type { Engine, EngineFrame } from '../engine/engine.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import {
  BusFormatError,
  decodeBusMessage,
  MessageKind,
  type BusMessage,
  type EventHeader,
  type SessionOpenedHeader,
} from '../protocol/bus-format.js';
import { Disconnect } from '../protocol/close-codes.js';
import type { Hub } from './hub.js';
import type { Socket, SocketState } from './socket-state.js';

export interface RouterDeps {
  engine: Engine<SocketState>;
  hub: Hub;
  revocations: Revocations;
  metrics: Metrics;
  log: Logger;
  maxBackpressure: number;
}

/**
 * The hot path: one bus message in, native topic publishes out. Reads the routing header,
 * never the event content; prepares the frame once per event, and only when this pod holds
 * one of its targets.
 */
export function createRouter(deps: RouterDeps): (msg: Uint8Array) => void {
  const { engine, hub, revocations, metrics, log, maxBackpressure } = deps;

  function deliverEvent(header: EventHeader, frameBytes: Uint8Array): void {
    metrics.eventsReceived.inc();
    const from =
      header.inclusive || header.fromSessionId === null ? undefined : hub.session(header.fromSessionId);
    let frame: EngineFrame | undefined;
    let sent = 0;
    for (const userId of header.targetUsers) {
      const user = hub.user(userId);
      // Nobody here, or only the origin socket that inclusive:false skips.
      if (user === undefined || (from !== undefined && user.sockets.size === 1 && user.sockets.has(from))) continue;
      frame ??= engine.prepareFrame(frameBytes);
      if (!engine.publish(user.topic, frame, from)) closeSlowConsumers(user.sockets);
      sent += user.sockets.size;
      if (from !== undefined && user.sockets.has(from)) sent--;
    }
    if (sent > 0) {
      metrics.framesSent.inc(sent);
      metrics.deliverySeconds.observe(Math.max(0, Date.now() - header.emittedAt) / 1000);
    }
  }

  function closeSlowConsumers(sockets: Iterable<Socket>): void {
    for (const socket of sockets) {
      if (!socket.closed && socket.bufferedAmount() > maxBackpressure) {
        metrics.slowConsumers.inc();
        socket.end(Disconnect.SlowConsumer);
      }
    }
  }

  function disconnectUser(userId: string, revokedAt: number): void {
    revocations.revoke(userId, revokedAt);
    const user = hub.user(userId);
    if (!user) return;
    for (const socket of [...user.sockets]) socket.end(Disconnect.UserInvalidated);
  }

  function disconnectSession(sessionId: string): void {
    hub.session(sessionId)?.end(Disconnect.SessionClosed);
  }

  /**
   * One socket per session across pods. Bus order decides, never pods' clocks: once a socket's
   * own announcement has come back, any other announcement of its session came later, so the
   * local socket is the older one and closes. An announcement that arrives before ours came
   * earlier: its pod closes its socket when ours reaches it.
   */
  function sessionOpened(header: SessionOpenedHeader): void {
    const local = hub.session(header.sessionId);
    if (!local) return;
    if (local.data.socketKey === header.socketKey) {
      local.data.announced = true;
      return;
    }
    if (local.data.announced) {
      local.end(Disconnect.Replaced);
    }
  }

  function dispatch(decoded: BusMessage): void {
    switch (decoded.kind) {
      case MessageKind.Event:
        return deliverEvent(decoded.header, decoded.frame);
      case MessageKind.DisconnectUser:
        return disconnectUser(decoded.header.userId, decoded.header.revokedAt);
      case MessageKind.DisconnectSession:
        return disconnectSession(decoded.header.sessionId);
      case MessageKind.SessionOpened:
        return sessionOpened(decoded.header);
    }
  }

  /** The entry point: every bus message a pod receives goes through here, and it never throws. */
  return function routeBusMessage(msg: Uint8Array): void {
    let decoded;
    try {
      decoded = decodeBusMessage(msg);
    } catch (error) {
      metrics.busMessagesRejected.inc();
      log.warn({ err: error instanceof BusFormatError ? error.message : error }, 'unreadable bus message dropped');
      return;
    }
    try {
      dispatch(decoded);
    } catch (error) {
      // A bug here costs this message on this pod, never the bus subscription or the process.
      metrics.routeFailures.inc();
      log.error({ err: error, kind: decoded.kind }, 'a bus message could not be routed');
    }
  };
}
