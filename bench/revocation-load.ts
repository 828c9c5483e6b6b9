/**
 * `bun bench/revocation-load.ts [nats|amqp] [count…]`: how long a pod takes to load a revocation
 * store of N entries before it may be ready, and the memory its table takes (docs/operations.md
 * quotes it). NATS: a nats-server of its own; AMQP: a fresh stream on HERALD_AMQP_URL (default the
 * local RabbitMQ), deleted afterwards. Entries are written in the stores' documented formats
 * (docs/bus-format.md), many in flight, then loaded through the gateway's own store classes.
 */
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import amqplib from 'amqplib';
import { randomUUID } from 'node:crypto';
import { Revocations } from '../src/auth/revocations.js';
import { AmqpRevocationStore } from '../src/bus/amqp/amqp-revocation-store.js';
import { NatsBus } from '../src/bus/nats/nats-bus.js';
import { createLogger } from '../src/log.js';
import { startNatsServer, stopAllNatsServers } from '../test/e2e/harness/nats-server.js';

const bus = process.argv[2] ?? 'nats';
const counts = process.argv.slice(3).map(Number);
if (counts.length === 0) counts.push(100_000, 1_000_000);
const log = createLogger('silent');
const IN_FLIGHT = 5_000;

function entry(i: number, now: number) {
  const userId = `user-${i.toString(36).padStart(6, '0')}-${randomUUID().slice(0, 8)}`;
  return { userId, value: JSON.stringify({ userId, revokedAt: now, calledAt: now, user: true }) };
}

async function inBatches(n: number, write: (i: number) => Promise<unknown>): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < n; i += IN_FLIGHT) {
    await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, n - i) }, (_, j) => write(i + j)));
  }
  return performance.now() - started;
}

async function measure(load: (table: Revocations) => Promise<void>): Promise<{ ms: number; mb: number; size: number }> {
  Bun.gc(true);
  const before = process.memoryUsage().rss;
  const table = new Revocations();
  const started = performance.now();
  await load(table);
  const ms = performance.now() - started;
  Bun.gc(true);
  return { ms, mb: (process.memoryUsage().rss - before) / 1024 / 1024, size: table.size };
}

async function natsRun(n: number): Promise<void> {
  const server = await startNatsServer();
  const writer = new NatsBus({ servers: [server.url], subject: 'bench.revocations', log, publishOnly: true });
  await writer.start(() => {});
  const kv = await new Kvm(writer.connection).create('herald_revocations', { history: 1, ttl: new Revocations().keepMs });
  void kv;
  const js = jetstream(writer.connection);
  const now = Date.now();
  const writeMs = await inBatches(n, (i) => {
    const { userId, value } = entry(i, now);
    return js.publish(`$KV.herald_revocations.${Buffer.from(userId).toString('base64url')}`, value);
  });
  const reader = new NatsBus({ servers: [server.url], subject: 'bench.revocations', log, publishOnly: true });
  await reader.start(() => {});
  const store = reader.createRevocationStore(log);
  const result = await measure((table) => store.start(table));
  report(n, writeMs, result);
  await store.close();
  await Promise.all([reader.close(), writer.close()]);
  await stopAllNatsServers();
}

async function amqpRun(n: number): Promise<void> {
  const url = process.env.HERALD_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
  const stream = `herald.bench.${process.pid}.${Date.now().toString(36)}.revocations`;
  const setup = new AmqpRevocationStore({ url, stream, log });
  // Declares the stream as a pod would.
  await setup.record({ userId: 'bench-first', revokedAt: Date.now(), calledAt: Date.now(), user: true }, new Revocations().keepMs);
  await setup.close();
  const connection = await amqplib.connect(url);
  const channel = await connection.createConfirmChannel();
  const now = Date.now();
  const keepUntil = now + new Revocations().keepMs;
  const writeMs = await inBatches(n, (i) => {
    const { userId } = entry(i, now);
    const body = Buffer.from(JSON.stringify({ userId, revokedAt: now, calledAt: now, user: true, keepUntil }));
    return new Promise<void>((resolve, reject) =>
      channel.publish('', stream, body, { persistent: true }, (error) => (error ? reject(error) : resolve())),
    );
  });
  const store = new AmqpRevocationStore({ url, stream, log });
  const result = await measure((table) => store.start(table));
  report(n, writeMs, result);
  await store.close();
  await channel.deleteQueue(stream);
  await connection.close();
}

function report(n: number, writeMs: number, { ms, mb, size }: { ms: number; mb: number; size: number }): void {
  const line = [
    `${bus} ${n.toLocaleString('en')} revocations`,
    `written in ${(writeMs / 1000).toFixed(1)} s`,
    `loaded in ${(ms / 1000).toFixed(2)} s (${Math.round(size / (ms / 1000)).toLocaleString('en')}/s)`,
    `table ${size.toLocaleString('en')} entries, RSS +${mb.toFixed(0)} MB`,
  ];
  process.stdout.write(`${line.join(' · ')}\n`);
}

for (const n of counts) {
  if (bus === 'amqp') await amqpRun(n);
  else await natsRun(n);
}
process.exit(0);
