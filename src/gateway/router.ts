import type { Revocations } from '../auth/revocations.js';
import type { Engine, EngineFrame } from '../engine/engine.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import {
  BusFormatError,
  decodeBusMessage,
  forEachBundled,
  MAX_BUNDLE_MESSAGES,
  MessageKind,
  type BusMessage,
  type EventHeader,
  type SessionOpenedHeader,
} from '../protocol/bus-format.js';
import { frameWithSeq } from '../protocol/client-frames.js';
import { Disconnect } from '../protocol/close-codes.js';
import { BYTES_PER_EVENT, BYTES_PER_TARGET } from '../recovery/recent-events.js';
import type { Recovery } from '../recovery/recovery.js';
import type { Hub } from './hub.js';
import type { Socket, SocketState } from './socket-state.js';

export interface RouterDeps {
  engine: Engine<SocketState>;
  hub: Hub;
  revocations: Revocations;
  metrics: Metrics;
  log: Logger;
  maxBackpressure: number;
  /** The pod's view of the event log, when recovery is on: every event is kept for resumes. */
  recovery?: Recovery<EngineFrame>;
}

/** Bytes counted per kept event beyond its frame (see docs/recovery.md). */
const FRAME_OVERHEAD_BYTES = 16;

/**
 * The hot path: one stored bus message in, native topic publishes out. Reads the routing
 * header, never the event content; prepares the frame once per event — with its `seq` when the
 * bus keeps a log — and, without recovery, only when this pod holds one of its targets.
 */
export function createRouter(deps: RouterDeps): (stored: Uint8Array, position?: number) => void {
  const { engine, hub, revocations, metrics, log, maxBackpressure, recovery } = deps;

  function deliverEvent(header: EventHeader, frameBytes: Uint8Array, seq: number): void {
    metrics.eventsReceived.inc();
    const from =
      header.inclusive || header.fromSessionId === null ? undefined : hub.session(header.fromSessionId);
    let frame: EngineFrame | undefined;
    if (recovery && seq > 0) {
      frame = engine.prepareFrame(frameWithSeq(frameBytes, seq));
      recovery.record({
        seq,
        frame,
        skipSessionId: header.inclusive ? null : header.fromSessionId,
        targetUsers: header.targetUsers,
        bytes: frameBytes.length + FRAME_OVERHEAD_BYTES + BYTES_PER_EVENT + header.targetUsers.length * BYTES_PER_TARGET,
        atMs: header.emittedAt,
      });
    }
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

  function dispatch(decoded: BusMessage, seq: number): void {
    switch (decoded.kind) {
      case MessageKind.Event:
        return deliverEvent(decoded.header, decoded.frame, seq);
      case MessageKind.DisconnectUser:
        return disconnectUser(decoded.header.userId, decoded.header.revokedAt);
      case MessageKind.DisconnectSession:
        return disconnectSession(decoded.header.sessionId);
      case MessageKind.SessionOpened:
        return sessionOpened(decoded.header);
      case MessageKind.Bundle:
        throw new BusFormatError('a bundle inside a bundle');
    }
  }

  function routeOne(msg: Uint8Array, seq: number): void {
    let decoded;
    try {
      decoded = decodeBusMessage(msg);
      dispatch(decoded, seq);
    } catch (error) {
      if (decoded === undefined || error instanceof BusFormatError) {
        metrics.busMessagesRejected.inc();
        log.warn({ err: error instanceof BusFormatError ? error.message : error }, 'unreadable bus message dropped');
      } else {
        // A bug here costs this message on this pod, never the bus subscription or the process.
        metrics.routeFailures.inc();
        log.error({ err: error, kind: decoded.kind }, 'a bus message could not be routed');
      }
    }
    // Control messages and unreadable ones take their place in the log all the same.
    if (seq > 0) recovery?.advance(seq);
  }

  /**
   * The entry point: every stored bus message a pod receives goes through here, in log order,
   * with its log position (0 without a log). It never throws.
   */
  return function routeBusMessage(stored: Uint8Array, position = 0): void {
    try {
      forEachBundled(stored, (msg, index) => routeOne(msg, position > 0 ? position * MAX_BUNDLE_MESSAGES + index : 0));
    } catch (error) {
      metrics.busMessagesRejected.inc();
      log.warn({ err: error instanceof BusFormatError ? error.message : error }, 'unreadable bundle dropped');
      if (position > 0) recovery?.advance(position * MAX_BUNDLE_MESSAGES);
    }
  };
}
