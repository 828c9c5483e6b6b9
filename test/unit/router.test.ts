import { describe, expect, it } from 'vitest';
import { Revocations } from '../../src/auth/revocations.js';
import type { Engine, EngineFrame } from '../../src/engine/engine.js';
import { Hub } from '../../src/gateway/hub.js';
import { createRouter } from '../../src/gateway/router.js';
import { SessionOwnership } from '../../src/gateway/session-ownership.js';
import type { Socket, SocketState } from '../../src/gateway/socket-state.js';
import { fakeSocket } from './fake-socket.js';
import { createLogger } from '../../src/log.js';
import { createMetrics, DELIVERY_SAMPLE_EVERY } from '../../src/metrics.js';
import { encodeEvents } from '../../src/protocol/event-encoder.js';
import { encodeBusMessage, MessageKind, packBundles } from '../../src/protocol/bus-format.js';

/** A recording engine: the router's only output is what it asks the engine to do. */
function recordingEngine() {
  const prepared: (string | Uint8Array)[] = [];
  const published: { topic: string; frame: EngineFrame; from?: Socket }[] = [];
  const engine: Engine<SocketState> = {
    name: 'recording',
    listen: async () => ({ port: 0 }),
    prepareFrame: (frame) => {
      prepared.push(frame);
      return { native: frame };
    },
    publish: (topic, frame, from) => {
      published.push({ topic, frame, from });
      return true;
    },
    fanOut: (work) => work(),
    stop: async () => {},
  };
  return { engine, prepared, published };
}

describe('router', () => {
  it('prepares each event frame once and publishes the same frame to every local target user', () => {
    const { engine, prepared, published } = recordingEngine();
    const hub = new Hub();
    for (let i = 0; i < 100; i += 2) hub.add(fakeSocket(`u${i}`, `s${i}`));
    const metrics = createMetrics();
    const route = createRouter({ engine, hub, revocations: new Revocations(), sessions: new SessionOwnership(hub), metrics, log: createLogger('silent'), maxBackpressure: 1024 });
    const targets = Array.from({ length: 100 }, (_, i) => `u${i}`);
    const { messages } = encodeEvents({ type: 'A', content: { big: 'x'.repeat(1000) }, targetUsers: targets });

    route(messages[0]!);

    expect(prepared).toHaveLength(1);
    // Only the 50 users this pod holds are published to, all with the one prepared frame.
    expect(published.map((p) => p.topic)).toEqual(targets.filter((_, i) => i % 2 === 0).map((u) => `u:${u}`));
    expect(new Set(published.map((p) => p.frame)).size).toBe(1);
  });

  it('counts every event and frame, and samples herald_delivery_seconds 1 in 16 delivered events, as its help text says', async () => {
    const { engine, published } = recordingEngine();
    const hub = new Hub();
    hub.add(fakeSocket('u1', 's1'));
    const metrics = createMetrics();
    const route = createRouter({ engine, hub, revocations: new Revocations(), sessions: new SessionOwnership(hub), metrics, log: createLogger('silent'), maxBackpressure: 1024 });
    // 40 events in one request (one stored message), then 8 one at a time; 10 of them for nobody here.
    const batch = Array.from({ length: 50 }, (_, i) => ({ type: 'A', content: i, targetUsers: [i < 40 ? 'u1' : 'elsewhere'] }));
    const { messages } = encodeEvents(batch);
    route(packBundles(messages.slice(0, 40))[0]!);
    for (const msg of messages.slice(40)) route(msg);
    for (let i = 0; i < 8; i++) route(encodeEvents({ type: 'B', content: i, targetUsers: ['u1'] }).messages[0]!);

    expect(published).toHaveLength(48);
    const text = await metrics.registry.metrics();
    expect(text).toContain('herald_events_received_total 58');
    expect(text).toContain('herald_frames_sent_total 48');
    // The 1st, 17th and 33rd of the 48 delivered events.
    expect(text).toContain('herald_delivery_seconds_count 3');
    expect(text).toContain(`# HELP herald_delivery_seconds Emit to local send, per pod; sampled: 1 in ${DELIVERY_SAMPLE_EVERY} events that reached a local socket`);
  });

  it('does no engine work for an event none of whose targets is here', () => {
    const { engine, prepared, published } = recordingEngine();
    const route = createRouter({
      engine,
      hub: new Hub(),
      revocations: new Revocations(),
      sessions: new SessionOwnership(new Hub()),
      metrics: createMetrics(),
      log: createLogger('silent'),
      maxBackpressure: 1024,
    });
    route(encodeEvents({ type: 'A', content: 1, targetUsers: ['elsewhere'] }).messages[0]!);
    expect(prepared).toHaveLength(0);
    expect(published).toHaveLength(0);
  });

  it('publishes from the origin socket when inclusive is false so the engine skips it', () => {
    const { engine, published } = recordingEngine();
    const hub = new Hub();
    const origin = fakeSocket('u1', 's1');
    hub.add(origin);
    const route = createRouter({ engine, hub, revocations: new Revocations(), sessions: new SessionOwnership(hub), metrics: createMetrics(), log: createLogger('silent'), maxBackpressure: 1024 });
    // The origin is the user's only socket here: nothing to send at all.
    route(encodeEvents({ type: 'A', content: 1, targetUsers: ['u1'], fromSessionId: 's1' }).messages[0]!);
    expect(published).toEqual([]);
    hub.add(fakeSocket('u1', 's2'));
    route(encodeEvents({ type: 'A', content: 1, targetUsers: ['u1'], fromSessionId: 's1' }).messages[0]!);
    route(encodeEvents({ type: 'A', content: 1, targetUsers: ['u1'], fromSessionId: 's1', inclusive: true }).messages[0]!);
    expect(published.map((p) => p.from)).toEqual([origin, undefined]);
  });

  it('drops an unreadable bus message, counts it, and keeps routing', async () => {
    const { engine, published } = recordingEngine();
    const hub = new Hub();
    hub.add(fakeSocket('u1', 's1'));
    const metrics = createMetrics();
    const route = createRouter({ engine, hub, revocations: new Revocations(), sessions: new SessionOwnership(hub), metrics, log: createLogger('silent'), maxBackpressure: 1024 });
    route(Uint8Array.from([1, 2, 3]));
    route(encodeEvents({ type: 'A', content: 1, targetUsers: ['u1'] }).messages[0]!);
    expect(published).toHaveLength(1);
    expect((await metrics.busMessagesRejected.get()).values[0]?.value).toBe(1);
  });

  describe('disconnects become revocations in the table', () => {
    const setup = () => {
      const { engine } = recordingEngine();
      const hub = new Hub();
      const revocations = new Revocations();
      const route = createRouter({ engine, hub, revocations, sessions: new SessionOwnership(hub), metrics: createMetrics(), log: createLogger('silent'), maxBackpressure: 1024 });
      const token = (userId: string, sessionId: string, iat: number, seenAt = Number.POSITIVE_INFINITY) => ({ userId, sessionId, iat, seenAt });
      return { route, revocations, token };
    };

    it('a user disconnect covers the earlier iat, and tokens seen by the call', () => {
      const { route, revocations, token } = setup();
      route(encodeBusMessage(MessageKind.DisconnectUser, { userId: 'u1', revokedAt: 5_000_000, calledAt: 6_000_000 }));
      expect(revocations.check(token('u1', 's1', 4_999))).toMatchObject({ user: true });
      expect(revocations.check(token('u1', 's1', 7_000, 6_000_000))).toMatchObject({ user: true });
      expect(revocations.check(token('u1', 's1', 7_000, 6_000_001))).toBeUndefined();
    });

    it('a session disconnect of one user covers that user only; an older message without userId covers every user, by sight', () => {
      const { route, revocations, token } = setup();
      route(encodeBusMessage(MessageKind.DisconnectSession, { sessionId: 's1', userId: 'u1', revokedAt: 5_000_000, calledAt: 5_000_000 }));
      expect(revocations.check(token('u1', 's1', 4_000))).toBeDefined();
      expect(revocations.check(token('u2', 's1', 4_000))).toBeUndefined();
      const before = Date.now();
      route(encodeBusMessage(MessageKind.DisconnectSession, { sessionId: 's9' }));
      expect(revocations.check(token('u2', 's9', 1, before))).toMatchObject({ sessionId: 's9', user: false });
      expect(revocations.check(token('u2', 's9', 1))).toBeUndefined();
    });
  });

  describe('one socket per session across pods', () => {
    const setup = () => {
      const { engine } = recordingEngine();
      const hub = new Hub();
      const local = fakeSocket('u1', 's1');
      hub.add(local);
      const sessions = new SessionOwnership(hub);
      const route = createRouter({ engine, hub, revocations: new Revocations(), sessions, metrics: createMetrics(), log: createLogger('silent'), maxBackpressure: 1024 });
      let position = 0;
      /** With `logged`, each announcement takes the next log position; without, position 0 (no log). */
      const announce = (socketKey: string, openedAt: number, logged = true, userId: string | undefined = 'u1') =>
        route(encodeBusMessage(MessageKind.SessionOpened, { sessionId: 's1', userId, socketKey, openedAt }), logged ? ++position : 0);
      return { local, announce, hub, sessions };
    };

    it('with a log: closes the local socket with 4009 when another socket of its session is announced after its own', () => {
      const { local, announce } = setup();
      announce(local.data.socketKey, 2_000);
      // Another pod's clock is behind: its socket is still the newer one by log order.
      announce('other-pod:1', 1_000);
      expect(local.endedWith).toBe(4009);
    });

    it('with a log: keeps the local socket when the other announcement came before its own: the other pod yields', () => {
      const { local, announce } = setup();
      announce('other-pod:1', 5_000);
      announce(local.data.socketKey, 1_000);
      expect(local.endedWith).toBeUndefined();
    });

    it('reads an announcement without userId (an older pod) as that session id of any user', () => {
      const { local, announce } = setup();
      announce(local.data.socketKey, 1_000);
      announce('old-pod:1', 2_000, true, undefined);
      expect(local.endedWith).toBe(4009);
    });

    it('never touches another user socket of the same session id', () => {
      const { local, announce } = setup();
      announce(local.data.socketKey, 1_000);
      announce('other-pod:1', 2_000, true, 'u2');
      expect(local.endedWith).toBeUndefined();
    });

    it('without a log: every pod orders two claims alike, by openedAt then socket key, whatever the arrival order', () => {
      const first = setup();
      first.local.data.openedAt = 1_000;
      first.announce('other-pod:1', 2_000, false);
      expect(first.local.endedWith).toBe(4009);
      const second = setup();
      second.local.data.openedAt = 3_000;
      second.announce('other-pod:1', 2_000, false);
      expect(second.local.endedWith).toBeUndefined();
      // A tie: the larger socket key wins, on both pods.
      const tie = setup();
      tie.local.data.openedAt = 2_000;
      tie.announce('zzz:1', 2_000, false);
      expect(tie.local.endedWith).toBe(4009);
    });

    it('without a log: a claim heard while the upgrade of that session was in flight here wins at open when it is later', () => {
      const { hub, sessions, announce } = setup();
      announce('other-pod:1', 5_000, false, 'u9');
      const opening = fakeSocket('u9', 's1');
      opening.data.openedAt = 4_000;
      hub.add(opening);
      expect(sessions.loses(opening.data)).toBe(true);
      opening.data.openedAt = 6_000;
      expect(sessions.loses(opening.data)).toBe(false);
      sessions.sweep(Date.now() + 60_000);
      opening.data.openedAt = 4_000;
      expect(sessions.loses(opening.data)).toBe(false);
    });
  });
});
