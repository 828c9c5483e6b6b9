import { describe, expect, it } from 'vitest';
import { Revocations } from '../../src/auth/revocations.js';
import type { Bus } from '../../src/bus/bus.js';
import { Drain } from '../../src/gateway/drain.js';
import { Hub } from '../../src/gateway/hub.js';
import { SessionOwnership } from '../../src/gateway/session-ownership.js';
import { SocketLifecycle } from '../../src/gateway/socket-lifecycle.js';
import { createLogger } from '../../src/log.js';
import { createMetrics } from '../../src/metrics.js';
import { Recovery } from '../../src/recovery/recovery.js';
import { fakeSocket } from './fake-socket.js';

/** A pod's lifecycle with a log holding events 1024, 2048 … for user u1, and a socket of u1 resuming from 0. */
function setup(events: number) {
  const metrics = createMetrics();
  const log = createLogger('silent');
  const hub = new Hub();
  const recovery = new Recovery<string>({ windowMs: 60_000, maxBytes: 1 << 20, metrics, prepareFrame: (frame) => (typeof frame === 'string' ? frame : new TextDecoder().decode(frame)) });
  recovery.opened({ epoch: 'E', coveredAfter: 0 });
  for (let i = 1; i <= events; i++) {
    recovery.record({ seq: i * 1024, frame: `frame-${i}`, skipSessionId: null, targetUsers: ['u1'], bytes: 100, atMs: Date.now() });
  }
  const bus = { publish: () => Promise.resolve() } as unknown as Bus;
  const lifecycle = new SocketLifecycle({
    hub,
    revocations: new Revocations(),
    sessions: new SessionOwnership(hub),
    bus,
    drain: new Drain(hub, 1_000, log),
    metrics,
    log,
    heartbeatMs: 30_000,
    recovery,
  });
  const socket = fakeSocket('u1', 's1');
  socket.data.exp = Math.floor(Date.now() / 1000) + 3600;
  socket.data.resume = { since: { epoch: 'E', seq: 0 }, fromLog: undefined };
  return { lifecycle, socket, metrics };
}

describe('socket lifecycle: the replay at open', () => {
  it('sends the welcome, then every missed event in log order', () => {
    const { lifecycle, socket } = setup(3);
    const sent: unknown[] = [];
    socket.send = (frame) => (sent.push(JSON.parse(frame).type), 'sent');
    socket.sendFrame = (frame) => (sent.push(frame), 'sent');
    lifecycle.open(socket);
    expect(sent).toEqual(['herald.welcome', 'frame-1', 'frame-2', 'frame-3']);
    expect(socket.endedWith).toBeUndefined();
  });

  it('a replay the engine drops part of (past its send-buffer limit) closes the socket with 4008, never leaving a hole', async () => {
    const { lifecycle, socket, metrics } = setup(5);
    const replayed: unknown[] = [];
    socket.sendFrame = (frame) => {
      replayed.push(frame);
      return replayed.length <= 2 ? 'sent' : 'dropped';
    };
    lifecycle.open(socket);
    // The client got frames 1 and 2 and resumes from 2048; nothing after the dropped frame is sent.
    expect(replayed).toEqual(['frame-1', 'frame-2', 'frame-3']);
    expect(socket.endedWith).toBe(4008);
    expect(await metrics.registry.getSingleMetricAsString('herald_slow_consumer_total')).toMatch(/herald_slow_consumer_total 1$/m);
  });
});
