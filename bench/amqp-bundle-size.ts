/**
 * What a pod's amqplib consumer pays per byte for bundles of each size, and per frame size:
 *
 *   flock /work/bench.lock bun bench/amqp-bundle-size.ts [megabytes=16] [rounds=3] [sizes,…] [frameMax,…]
 *   HERALD_AMQP_URL overrides the broker (default amqp://guest:guest@127.0.0.1:5672).
 *
 * Per case: a fresh fanout exchange and exclusive queue (Herald's topology); the queue is
 * filled first with `megabytes` of messages of the case's size, then one noAck consumer drains
 * it. Shown: this process's CPU µs per MB while draining (the consumer alone) and MB/s by the
 * wall clock. amqplib joins a message's body frames (Buffer.concat) and grows its read buffer
 * frame by frame, so the cost per byte depends on how a message lies across frames; on a shared
 * machine read the CPU column, not the rate.
 */
import amqplib from 'amqplib';

const base = process.env.HERALD_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const MB = Number(process.argv[2] ?? 16);
const ROUNDS = Number(process.argv[3] ?? 3);
const KiB = 1024;
/** Bundle sizes: under one default frame (128 KiB less the frame's 8 bytes), just over it, and larger. */
const SIZES = process.argv[4]?.split(',').map(Number) ?? [16 * KiB, 64 * KiB, 128 * KiB - 8, 128 * KiB + 64, 256 * KiB, 1024 * KiB];
const FRAME_MAX = process.argv[5]?.split(',').map(Number) ?? [131_072, 32_768];

async function drainCase(size: number, frameMax: number): Promise<{ cpuUsPerMB: number; mbPerS: number }> {
  const url = `${base}${base.includes('?') ? '&' : '?'}frameMax=${frameMax}`;
  const exchange = `bench.bundle-size.${Math.random().toString(36).slice(2, 8)}`;
  const connection = await amqplib.connect(url);
  const channel = await connection.createChannel();
  await channel.assertExchange(exchange, 'fanout', { durable: false, autoDelete: true });
  const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true, durable: false });
  await channel.bindQueue(queue, exchange, '');
  const count = Math.ceil((MB * 1024 * KiB) / size);
  const body = Buffer.alloc(size, 0x61);
  for (let i = 0; i < count; i++) {
    if (!channel.publish(exchange, '', body)) await new Promise((resolve) => channel.once('drain', resolve));
  }
  // The queue holds them all before the consumer starts.
  while ((await channel.checkQueue(queue)).messageCount < count) await new Promise((resolve) => setTimeout(resolve, 50));
  let received = 0;
  let done: () => void = () => {};
  const finished = new Promise<void>((resolve) => (done = resolve));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await channel.consume(queue, () => {
    if (++received === count) done();
  }, { noAck: true });
  await finished;
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  await connection.close();
  const mb = (count * size) / (1024 * KiB);
  return { cpuUsPerMB: (cpu.user + cpu.system) / mb, mbPerS: mb / seconds };
}

const results = new Map<string, { cpu: number[]; rate: number[] }>();
for (let round = 0; round < ROUNDS; round++) {
  for (const frameMax of FRAME_MAX) {
    for (const size of round % 2 === 0 ? SIZES : [...SIZES].reverse()) {
      const key = `${frameMax}|${size}`;
      const r = await drainCase(size, frameMax);
      const entry = results.get(key) ?? { cpu: [], rate: [] };
      entry.cpu.push(r.cpuUsPerMB);
      entry.rate.push(r.mbPerS);
      results.set(key, entry);
    }
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`| frameMax | message bytes | consumer CPU µs per MB (median of ${ROUNDS}) | MB/s |`);
console.log('|---:|---:|---:|---:|');
for (const [key, { cpu, rate }] of results) {
  const [frameMax, size] = key.split('|');
  console.log(`| ${frameMax} | ${size} | ${median(cpu).toFixed(0)} | ${median(rate).toFixed(0)} |`);
}
