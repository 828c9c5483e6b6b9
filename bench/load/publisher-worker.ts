/**
 * The publishing process. Flat-out runs publish one pass of the event stream after another,
 * but never more than the bench's credit (frames delivered so far plus a window), so no
 * contender is pushed into its slow-consumer policy. Rate runs publish single events with a
 * send timestamp on a fixed schedule.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { connectAmqpPublisher, connectNatsPublisher } from '../../src/publisher/index.js';
import type { HeraldPublisher } from '../../src/publisher/index.js';
import { buildBodies, eventContent, EVENT_TYPE, type Body } from '../lib/event-stream.js';
import { monotonicMicros } from '../lib/clock.js';
import { KeepAlivePool } from '../lib/keep-alive-pool.js';
import { serveCommands } from '../lib/worker-side.js';
import type { FlatCommand, PublishProgress, PublishTransport, RateCommand } from './publisher-protocol.js';

interface Sink {
  /** Publishes one request's worth of events; throws when they were refused. */
  body(body: Body, events: unknown[]): Promise<void>;
  /** Publishes one event per user, each stamped with the send time (one request or call where the transport batches). */
  many(userIds: string[], sentAtMicros: number): void;
  close(): Promise<void>;
}

async function openSink(transport: PublishTransport): Promise<Sink> {
  if (transport.kind === 'http') {
    const headers = { authorization: `Bearer ${transport.token}`, 'content-type': 'application/json' };
    const post = async (bytes: Uint8Array | string) => {
      const response = await fetch(transport.url, { method: 'POST', headers, body: bytes as BodyInit });
      const text = await response.text();
      if (response.status !== 202 && response.status !== 200) throw new Error(`HTTP ${response.status}: ${text.slice(0, 200)}`);
    };
    const connections = transport.connections ?? 0;
    const pool = connections > 0 ? await KeepAlivePool.open(transport.url, transport.token, connections) : undefined;
    // With a pool: events wait while every connection is busy and go out together in the next
    // request (up to Herald's 1000), as a publisher under backpressure batches. Each keeps the
    // stamp of when it was due, so the wait counts as latency.
    let pending: string[] = [];
    let inFlight = 0;
    const pump = () => {
      while (pool && inFlight < connections && pending.length > 0) {
        const batch = pending.length <= 1000 ? pending : pending.slice(0, 1000);
        pending = pending.length <= 1000 ? [] : pending.slice(1000);
        inFlight++;
        pool
          .post(`[${batch.join(',')}]`)
          .then((status) => {
            if (status !== 202) recordError(new Error(`HTTP ${status}`));
          }, recordError)
          .finally(() => {
            inFlight--;
            pump();
          });
      }
    };
    return {
      body: (body) => post(body.bytes),
      many: (userIds, t) => {
        if (!pool) {
          post(JSON.stringify(userIds.map((u) => ({ type: EVENT_TYPE, content: eventContent(t), targetUsers: [u] })))).catch(recordError);
          return;
        }
        for (const u of userIds) pending.push(JSON.stringify({ type: EVENT_TYPE, content: eventContent(t), targetUsers: [u] }));
        pump();
      },
      close: async () => pool?.close(),
    };
  }
  if (transport.kind === 'herald-nats' || transport.kind === 'herald-amqp') {
    const publisher: HeraldPublisher =
      transport.kind === 'herald-nats'
        ? await connectNatsPublisher({
            servers: transport.servers,
            subject: transport.subject,
            stream: transport.stream,
            recoveryWindowS: transport.recoveryWindowS,
          })
        : await connectAmqpPublisher({ url: transport.url, exchange: transport.exchange });
    return {
      body: async (_body, events) => {
        await publisher.emit(events as Parameters<HeraldPublisher['emit']>[0]);
      },
      many: (userIds, t) => {
        publisher.emit(userIds.map((u) => ({ type: EVENT_TYPE, content: eventContent(t), targetUsers: [u] }))).catch(recordError);
      },
      close: () => publisher.close(),
    };
  }
  const nc: NatsConnection = await connect({ servers: transport.servers });
  const encoder = new TextEncoder();
  return {
    body: async () => {
      throw new Error('raw NATS carries latency runs only');
    },
    many: (userIds, t) => {
      for (const userId of userIds) {
        // The same ~200-byte JSON a Herald client frame carries.
        nc.publish(
          transport.subject,
          encoder.encode(
            `{"type":"${EVENT_TYPE}","id":"0190f5a2-7c1e-7000-8000-000000000000","content":${JSON.stringify(eventContent(t))},"fromUserId":null,"ts":${Date.now()},"to":"${userId}"}`,
          ),
        );
      }
    },
    close: () => nc.drain(),
  };
}

const progress: PublishProgress = { events: 0, deliveries: 0, requests: 0, errors: 0, lastError: undefined, maxLagMs: 0 };
let credit = 0;
let creditWaiters: (() => void)[] = [];
let running = false;
let lanes: Promise<void>[] = [];
let sink: Sink | undefined;

function recordError(error: unknown): void {
  progress.errors++;
  progress.lastError = error instanceof Error ? error.message : String(error);
}

function setCredit(upTo: number): void {
  credit = upTo;
  const waiters = creditWaiters;
  creditWaiters = [];
  for (const wake of waiters) wake();
}

async function startFlat(command: FlatCommand): Promise<{ bodies: number; deliveriesPerPass: number }> {
  sink = await openSink(command.transport);
  const bodies = buildBodies(command.stream);
  const parsed = bodies.map((b) => JSON.parse(new TextDecoder().decode(b.bytes)) as unknown[]);
  running = true;
  let next = 0;
  const lane = async () => {
    while (running) {
      const index = next++ % bodies.length;
      const body = bodies[index]!;
      while (running && progress.deliveries + body.deliveries > credit) {
        await new Promise<void>((resolve) => creditWaiters.push(resolve));
      }
      if (!running) break;
      progress.deliveries += body.deliveries;
      progress.events += body.events;
      progress.requests++;
      try {
        await sink!.body(body, parsed[index]!);
      } catch (error) {
        progress.deliveries -= body.deliveries;
        progress.events -= body.events;
        recordError(error);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  };
  lanes = Array.from({ length: command.concurrency }, lane);
  return { bodies: bodies.length, deliveriesPerPass: bodies.reduce((n, b) => n + b.deliveries, 0) };
}

let rateStopped = false;

async function runRate(command: RateCommand): Promise<PublishProgress> {
  sink ??= await openSink(command.transport);
  rateStopped = false;
  const users = command.to - command.from;
  const total = Math.round((command.eventsPerSecond * command.durationMs) / 1000);
  const start = monotonicMicros();
  let sent = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = monotonicMicros();
      const due = Math.min(total, Math.floor(((now - start) / 1e6) * command.eventsPerSecond));
      const lagMs = (now - start) / 1000 - (sent / command.eventsPerSecond) * 1000;
      if (due > sent && lagMs > progress.maxLagMs) progress.maxLagMs = lagMs;
      while (due > sent) {
        // Herald takes at most 1000 events per call or request: a late tick sends several.
        const batch: string[] = [];
        for (; sent < due && batch.length < 1000; sent++) batch.push(`u${command.from + (sent % users)}`);
        sink!.many(batch, monotonicMicros());
        progress.events += batch.length;
        progress.deliveries += batch.length;
        progress.requests++;
      }
      if (sent >= total || rateStopped) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  return progress;
}

async function stop(): Promise<PublishProgress> {
  running = false;
  setCredit(Number.POSITIVE_INFINITY);
  await Promise.all(lanes);
  lanes = [];
  return progress;
}

serveCommands(async (command) => {
  switch (command.cmd) {
    case 'start-flat':
      return startFlat(command as unknown as FlatCommand);
    case 'credit':
      setCredit(command.upTo as number);
      return progress;
    case 'progress':
      return progress;
    case 'stop':
      return stop();
    case 'rate':
      return runRate(command as unknown as RateCommand);
    case 'stop-rate':
      rateStopped = true;
      return progress;
    case 'reset':
      Object.assign(progress, { events: 0, deliveries: 0, requests: 0, errors: 0, lastError: undefined, maxLagMs: 0 });
      credit = 0;
      return progress;
    case 'close':
      await sink?.close();
      sink = undefined;
      return null;
    default:
      throw new Error(`unknown command ${command.cmd}`);
  }
});
