/**
 * `bun bench/micro-recovery.ts [--events N] [--targets 1,100]`: what recovery (§6) adds to the
 * router's per-event cost, on the project's own functions in one process — routeBusMessage
 * over stored bundles, recovery on and off, a hub holding half of 1,000 users (one of two
 * pods), an engine whose publish does nothing and whose prepareFrame decodes as Bun's does.
 * On and off alternate, 3 rounds, medians of the CPU time per event.
 */
import { parseArgs } from 'node:util';
import { Revocations } from '../src/auth/revocations.js';
import type { Engine, EngineFrame } from '../src/engine/engine.js';
import { Hub } from '../src/gateway/hub.js';
import { SessionOwnership } from '../src/gateway/session-ownership.js';
import { createRouter } from '../src/gateway/router.js';
import type { Socket, SocketState } from '../src/gateway/socket-state.js';
import { createLogger } from '../src/log.js';
import { createMetrics } from '../src/metrics.js';
import { packBundles } from '../src/protocol/bus-format.js';
import { encodeEvents } from '../src/protocol/event-encoder.js';
import { Recovery } from '../src/recovery/recovery.js';
import { eventContent } from './lib/event-stream.js';
import { median } from './lib/measure.js';

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: { events: { type: 'string', default: '200000' }, targets: { type: 'string', default: '1,100' } },
});
const USERS = 1000;
const decoder = new TextDecoder();

function engine(): Engine<SocketState> {
  return {
    name: 'null',
    listen: async () => ({ port: 0 }),
    prepareFrame: (frame) => (typeof frame === 'string' ? frame : decoder.decode(frame)) as unknown as EngineFrame,
    publish: () => true,
    fanOut: (work) => work(),
    stop: async () => {},
  };
}

function fakeSocket(userId: string, sessionId: string): Socket {
  return { data: { userId, sessionId }, closed: false, bufferedAmount: () => 0 } as unknown as Socket;
}

/** The stored messages of `events` events, `targets` users each, bundled as the NATS log stores what one tick emits. */
function storedMessages(events: number, targets: number): Uint8Array[] {
  const perRequest = Math.max(1, Math.min(1000, Math.ceil(10_000 / targets)));
  const stored: Uint8Array[] = [];
  for (let i = 0; i < events; i += perRequest) {
    const batch = Array.from({ length: Math.min(perRequest, events - i) }, (_, k) => ({
      type: 'bench.event',
      content: eventContent(0),
      targetUsers: Array.from({ length: targets }, (_, t) => `u${((i + k) * targets + t) % USERS}`),
    }));
    stored.push(...packBundles(encodeEvents(batch).messages));
  }
  return stored;
}

function run(recoveryOn: boolean, stored: Uint8Array[], events: number): number {
  const hub = new Hub();
  for (let u = 0; u < USERS; u += 2) hub.add(fakeSocket(`u${u}`, `s${u}`));
  const metrics = createMetrics();
  const nullEngine = engine();
  const recovery = recoveryOn
    ? new Recovery<EngineFrame>({ windowMs: 300_000, maxBytes: 256 * 2 ** 20, metrics, prepareFrame: (frame) => nullEngine.prepareFrame(frame) })
    : undefined;
  recovery?.opened({ epoch: 'micro', coveredAfter: 0 });
  const route = createRouter({
    engine: nullEngine,
    hub,
    revocations: new Revocations(),
    sessions: new SessionOwnership(hub),
    metrics,
    log: createLogger('silent'),
    maxBackpressure: 1 << 20,
    recovery,
  });
  // CPU time of the process (the collector's helper threads included), not wall time: the machine is shared.
  const start = process.cpuUsage();
  for (let i = 0; i < stored.length; i++) route(stored[i]!, recoveryOn ? i + 1 : 0);
  const used = process.cpuUsage(start);
  return (used.user + used.system) / events;
}

const events = Number(values.events);
for (const targets of values.targets!.split(',').map(Number)) {
  const n = targets === 1 ? events : Math.max(1000, Math.floor(events / 10));
  const stored = storedMessages(n, targets);
  const on: number[] = [];
  const off: number[] = [];
  for (let round = 0; round < 3; round++) {
    for (const mode of round % 2 === 0 ? [true, false] : [false, true]) {
      Bun.gc(true);
      (mode ? on : off).push(run(mode, stored, n));
    }
  }
  process.stdout.write(
    `${targets} target(s), ${n} events: routeBusMessage ${median(off).toFixed(2)} CPU-µs/event off, ${median(on).toFixed(2)} on ` +
      `(+${(median(on) - median(off)).toFixed(2)} µs; rounds on ${on.map((v) => v.toFixed(2)).join(' ')}, off ${off.map((v) => v.toFixed(2)).join(' ')})\n`,
  );
}
