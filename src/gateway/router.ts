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
  type DisconnectSessionHeader,
  type EventHeader,
} from '../protocol/bus-format.js';
import { frameWithSeq } from '../protocol/client-frames.js';
import { Disconnect } from '../protocol/close-codes.js';
import { BYTES_PER_EVENT, BYTES_PER_TARGET } from '../recovery/recent-events.js';
import type { Recovery } from '../recovery/recovery.js';
import type { Hub } from './hub.js';
import type { SessionOwnership } from './session-ownership.js';
import type { Socket, SocketState } from './socket-state.js';

export interface RouterDeps {
  engine: Engine<SocketState>;
  hub: Hub;
  /** Disconnects become revocations; the table's listener closes the sockets they cover. */
  revocations: Revocations;
  /** Decides one socket per session from SessionOpened announcements. */
  sessions: SessionOwnership;
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
  const { engine, hub, revocations, sessions, metrics, log, maxBackpressure, recovery } = deps;

  function deliverEvent(header: EventHeader, frameBytes: Uint8Array, seq: number): void {
    metrics.eventsReceived.inc();
    // Sessions belong to users: the origin is each target user's own socket of that session (as in resumes).
    const fromSessionId = header.inclusive ? null : header.fromSessionId;
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
      if (user === undefined) continue;
      const from = fromSessionId === null ? undefined : user.sessions.get(fromSessionId);
      // Only the origin socket, which inclusive:false skips.
      if (from !== undefined && user.sockets.size === 1) continue;
      frame ??= engine.prepareFrame(frameBytes);
      if (!engine.publish(user.topic, frame, from)) closeSlowConsumers(user.sockets);
      sent += from === undefined ? user.sockets.size : user.sockets.size - 1;
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

  /** A session logout, or part of a user disconnect; messages written before it was a revocation carry only `sessionId`. */
  function disconnectSession(header: DisconnectSessionHeader): void {
    revocations.apply({
      userId: header.userId,
      sessionId: header.sessionId,
      revokedAt: header.revokedAt ?? 0,
      calledAt: header.calledAt ?? Date.now(),
      user: header.user ?? false,
    });
  }

  function dispatch(decoded: BusMessage, seq: number): void {
    switch (decoded.kind) {
      case MessageKind.Event:
        return deliverEvent(decoded.header, decoded.frame, seq);
      case MessageKind.DisconnectUser: {
        const { userId, revokedAt, calledAt } = decoded.header;
        revocations.apply({ userId, revokedAt, calledAt: calledAt ?? revokedAt, user: true });
        return;
      }
      case MessageKind.DisconnectSession:
        return disconnectSession(decoded.header);
      case MessageKind.SessionOpened:
        return sessions.announced(decoded.header, seq);
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
