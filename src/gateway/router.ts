import type { Revocations } from '../auth/revocations.js';
import type { StoredMessage } from '../bus/bus.js';
import type { Engine, EngineFrame } from '../engine/engine.js';
import type { Logger } from '../log.js';
import { DELIVERY_SAMPLE_EVERY, type Metrics } from '../metrics.js';
import {
  BusFormatError,
  decodeBusMessage,
  forEachBundled,
  MAX_BUNDLE_MESSAGES,
  MessageKind,
  type BusMessage,
  type DisconnectSessionHeader,
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

type EventMessage = Extract<BusMessage, { kind: typeof MessageKind.Event }>;


/**
 * The hot path: one stored bus message in, native topic publishes out. Reads the routing
 * header, never the event content; prepares the frame once per event — with its `seq` when the
 * bus keeps a log — and, without recovery, only when this pod holds one of its targets.
 */
export function createRouter(deps: RouterDeps): (stored: StoredMessage, position?: number) => void {
  const { engine, hub, revocations, sessions, metrics, log, maxBackpressure, recovery } = deps;
  // Counted per stored message, not per event: one metric update per publish request.
  let eventsRouted = 0;
  let framesSent = 0;
  let deliveriesUntilSample = 0;

  function deliverEvent(event: EventMessage, seq: number): void {
    eventsRouted++;
    const { header, frame: frameIn } = event;
    // Sessions belong to users: the origin is each target user's own socket of that session (as in resumes).
    const fromSessionId = header.inclusive ? null : header.fromSessionId;
    let frame: EngineFrame | undefined;
    if (recovery && seq > 0) {
      const withSeq = event.frameOpen !== undefined ? `${event.frameOpen},"seq":${seq}}` : frameWithSeq(frameIn, seq);
      frame = engine.prepareFrame(withSeq);
      recovery.record({
        seq,
        // Kept as its bytes (copied, when the engine made bytes already: uWebSockets); a resume prepares them again.
        frame: frame instanceof Uint8Array ? frame : withSeq,
        skipSessionId: header.inclusive ? null : header.fromSessionId,
        targetUsers: header.targetUsers,
        // A string frame (the local bus) counts its UTF-16 units: its bytes for the ASCII frames carry.
        bytes: frameIn.length + BYTES_PER_EVENT + header.targetUsers.length * BYTES_PER_TARGET,
        atMs: header.emittedAt,
      });
    }
    let sent = 0;
    const targets = header.targetUsers;
    for (let i = 0; i < targets.length; i++) {
      const user = hub.user(targets[i]!);
      if (user === undefined) continue;
      const from = fromSessionId === null ? undefined : user.sessions.get(fromSessionId);
      // Only the origin socket, which inclusive:false skips.
      if (from !== undefined && user.sockets.size === 1) continue;
      frame ??= engine.prepareFrame(frameIn);
      if (!engine.publish(user.topic, frame, from)) closeSlowConsumers(user.sockets);
      sent += from === undefined ? user.sockets.size : user.sockets.size - 1;
    }
    if (sent > 0) {
      framesSent += sent;
      if (deliveriesUntilSample-- === 0) {
        deliveriesUntilSample = DELIVERY_SAMPLE_EVERY - 1;
        metrics.deliverySeconds.observe(Math.max(0, Date.now() - header.emittedAt) / 1000);
      }
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
        return deliverEvent(decoded, seq);
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

  /** One message, decoded or as bytes; a failure costs this message on this pod, never the bus subscription or the process. */
  function routeOne(msg: BusMessage | Uint8Array, seq: number): void {
    let decoded: BusMessage | undefined;
    try {
      decoded = msg instanceof Uint8Array ? decodeBusMessage(msg) : msg;
      dispatch(decoded, seq);
    } catch (error) {
      if (decoded === undefined || error instanceof BusFormatError) {
        metrics.busMessagesRejected.inc();
        log.warn({ err: error instanceof BusFormatError ? error.message : error }, 'unreadable bus message dropped');
      } else {
        metrics.routeFailures.inc();
        log.error({ err: error, kind: decoded.kind }, 'a bus message could not be routed');
      }
    }
    // Control messages and unreadable ones take their place in the log all the same.
    if (seq > 0) recovery?.advance(seq);
  }

  function countRouted(): void {
    if (eventsRouted > 0) metrics.eventsReceived.inc(eventsRouted);
    if (framesSent > 0) metrics.framesSent.inc(framesSent);
    eventsRouted = 0;
    framesSent = 0;
  }

  /**
   * The entry point: every stored bus message a pod receives goes through here, in log order,
   * with its log position (0 without a log). It never throws.
   */
  return function routeBusMessage(stored: StoredMessage, position = 0): void {
    const base = position * MAX_BUNDLE_MESSAGES;
    if (!(stored instanceof Uint8Array)) {
      for (let i = 0; i < stored.length; i++) routeOne(stored[i]!, position > 0 ? base + i : 0);
      countRouted();
      return;
    }
    try {
      forEachBundled(stored, (msg, index) => routeOne(msg, position > 0 ? base + index : 0));
    } catch (error) {
      metrics.busMessagesRejected.inc();
      log.warn({ err: error instanceof BusFormatError ? error.message : error }, 'unreadable bundle dropped');
      if (position > 0) recovery?.advance(base);
    }
    countRouted();
  };
}
