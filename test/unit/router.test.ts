import { describe, expect, it } from 'vitest';
import { Revocations } from '../../src/auth/revocations.js';
import type { Engine, EngineFrame } from '../../src/engine/engine.js';
import { Hub } from '../../src/gateway/hub.js';
import { createRouter } from '../../src/gateway/router.js';
import type { Socket, SocketState } from '../../src/gateway/socket-state.js';
import { fakeSocket } from './fake-socket.js';
import { createLogger } from '../../src/log.js';
import { createMetrics } from '../../src/metrics.js';
import { encodeEvents } from '../../src/protocol/event-encoder.js';
import { encodeBusMessage, MessageKind } from '../../src/protocol/bus-format.js';

/** A recording engine: the router's only output is what it asks the engine to do. */
function recordingEngine() {
  const prepared: Uint8Array[] = [];
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
    const route = createRouter({ engine, hub, revocations: new Revocations(), metrics, log: createLogger('silent'), maxBackpressure: 1024 });
    const targets = Array.from({ length: 100 }, (_, i) => `u${i}`);
    const { messages } = encodeEvents({ type: 'A', content: { big: 'x'.repeat(1000) }, targetUsers: targets });

    route(messages[0]!);

    expect(prepared).toHaveLength(1);
    // Only the 50 users this pod holds are published to, all with the one prepared frame.
    expect(published.map((p) => p.topic)).toEqual(targets.filter((_, i) => i % 2 === 0).map((u) => `u:${u}`));
    expect(new Set(published.map((p) => p.frame)).size).toBe(1);
  });

  it('does no engine work for an event none of whose targets is here', () => {
    const { engine, prepared, published } = recordingEngine();
    const route = createRouter({
      engine,
      hub: new Hub(),
      revocations: new Revocations(),
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
    const route = createRouter({ engine, hub, revocations: new Revocations(), metrics: createMetrics(), log: createLogger('silent'), maxBackpressure: 1024 });
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
    const route = createRouter({ engine, hub, revocations: new Revocations(), metrics, log: createLogger('silent'), maxBackpressure: 1024 });
    route(Uint8Array.from([1, 2, 3]));
    route(encodeEvents({ type: 'A', content: 1, targetUsers: ['u1'] }).messages[0]!);
    expect(published).toHaveLength(1);
    expect((await metrics.busMessagesRejected.get()).values[0]?.value).toBe(1);
  });

  describe('one socket per session across pods', () => {
    const setup = () => {
      const { engine } = recordingEngine();
      const hub = new Hub();
      const local = fakeSocket('u1', 's1');
      hub.add(local);
      const route = createRouter({ engine, hub, revocations: new Revocations(), metrics: createMetrics(), log: createLogger('silent'), maxBackpressure: 1024 });
      const announce = (socketKey: string, openedAt: number) =>
        route(encodeBusMessage(MessageKind.SessionOpened, { sessionId: 's1', socketKey, openedAt }));
      return { local, announce };
    };

    it('closes the local socket with 4009 when another socket of its session is announced after its own', () => {
      const { local, announce } = setup();
      announce(local.data.socketKey, 2_000);
      // Another pod's clock is behind: its socket is still the newer one by bus order.
      announce('other-pod:1', 1_000);
      expect(local.endedWith).toBe(4009);
    });

    it('keeps the local socket when the other announcement came before its own: the other pod yields', () => {
      const { local, announce } = setup();
      announce('other-pod:1', 5_000);
      announce(local.data.socketKey, 1_000);
      expect(local.endedWith).toBeUndefined();
    });
  });
});
