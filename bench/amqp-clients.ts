/**
 * AMQP client choice: amqplib vs @cloudamqp/amqp-client against the local RabbitMQ, side by side.
 *
 *   bun bench/amqp-clients.ts [messages=100000] [rounds=3]
 *   HERALD_AMQP_URL overrides the broker (default amqp://guest:guest@127.0.0.1:5672).
 *
 * Herald's topology: a non-durable fanout exchange, one server-named exclusive auto-delete
 * queue bound with routing key "", ~200-byte messages. Per client and round:
 *   publish      one connection publishes N messages as fast as the client lets it (pipelined,
 *                respecting the client's backpressure); time until the last one is on the socket.
 *   publishConfirmed  the same on a confirm channel, at most 1000 unconfirmed: time until all
 *                are confirmed by the broker.
 *   end-to-end   the same, with a consumer on a second connection (noAck): time from the first
 *                publish until the consumer has received all N.
 *   consume      N messages wait in the queue first; time for a consumer to drain them, once
 *                with noAck and once with manual acks (prefetch 1000, one ack per 500 messages).
 * Each figure is msgs/s by the wall clock and this process's CPU µs per message (both
 * connections live in this process): on a shared machine the CPU cost is the steadier number.
 * Rounds alternate the clients so that noise on a shared machine hits both alike.
 */
import { AMQPClient, type AMQPChannel } from '@cloudamqp/amqp-client';
import amqplib from 'amqplib';

const url = process.env.HERALD_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const N = Number(process.argv[2] ?? 100_000);
const ROUNDS = Number(process.argv[3] ?? 3);
const PAYLOAD = new Uint8Array(200).fill(0x61);
const CONFIRM_WINDOW = 1000;

const PHASES = ['publish', 'publishConfirmed', 'endToEnd', 'consumeNoAck', 'consumeAck'] as const;
type Phase = (typeof PHASES)[number];
/** Per phase: messages per second (wall clock) and this process's CPU microseconds per message. */
type Figures = Record<Phase, { rate: number; cpuUs: number }>;

/** What the bench needs from a client; each adapter is written the way the client is meant to be used. */
interface Driver {
  name: string;
  /** Connects and declares a fresh non-durable fanout exchange. */
  setup(exchange: string): Promise<void>;
  /** A server-named exclusive auto-delete queue bound to the exchange (cancelling its consumer deletes it). */
  bindQueue(exchange: string): Promise<string>;
  publishAll(exchange: string, count: number): Promise<void>;
  /** The same on a channel in confirm mode: resolves once the broker has confirmed every message. */
  publishConfirmed(exchange: string, count: number): Promise<void>;
  /** Resolves once `count` messages arrived. */
  consume(queue: string, count: number, ack: boolean): Promise<void>;
  /** Ready messages in the queue (a passive declare on the consumer's connection: the queue is exclusive to it). */
  depth(queue: string): Promise<number>;
  teardown(exchange: string): Promise<void>;
}

function amqplibDriver(): Driver {
  let pub: amqplib.ChannelModel;
  let sub: amqplib.ChannelModel;
  let pubCh: amqplib.Channel;
  let confirmCh: amqplib.ConfirmChannel;
  let subCh: amqplib.Channel;
  const payload = Buffer.from(PAYLOAD);
  return {
    name: 'amqplib 2.3.1',
    async setup(exchange) {
      pub = await amqplib.connect(url);
      sub = await amqplib.connect(url);
      pubCh = await pub.createChannel();
      confirmCh = await pub.createConfirmChannel();
      subCh = await sub.createChannel();
      await subCh.assertExchange(exchange, 'fanout', { durable: false });
    },
    async bindQueue(exchange) {
      const { queue } = await subCh.assertQueue('', { exclusive: true, autoDelete: true, durable: false });
      await subCh.bindQueue(queue, exchange, '');
      return queue;
    },
    async publishAll(exchange, count) {
      for (let i = 0; i < count; i++) {
        // false: the socket buffer is full; wait for it to drain before writing more.
        if (!pubCh.publish(exchange, '', payload)) await new Promise((resolve) => pubCh.once('drain', resolve));
      }
      // amqplib writes synchronously into its buffer; a round trip proves everything before it is out.
      await pubCh.checkExchange(exchange);
    },
    async publishConfirmed(exchange, count) {
      // At most CONFIRM_WINDOW unconfirmed: the way a bus would keep publish latency bounded.
      let window: Promise<void>[] = [];
      for (let i = 0; i < count; i++) {
        window.push(
          new Promise((resolve, reject) =>
            confirmCh.publish(exchange, '', payload, {}, (error) => (error ? reject(error) : resolve())),
          ),
        );
        if (window.length === CONFIRM_WINDOW) await Promise.all(window.splice(0));
      }
      await Promise.all(window);
    },
    consume(queue, count, ack) {
      return new Promise((resolve, reject) => {
        let received = 0;
        const start = async () => {
          if (ack) await subCh.prefetch(1000);
          const { consumerTag } = await subCh.consume(
            queue,
            (msg) => {
              if (!msg) return reject(new Error('consumer cancelled'));
              received++;
              if (ack && (received % 500 === 0 || received === count)) subCh.ack(msg, true);
              if (received === count) subCh.cancel(consumerTag).then(() => resolve(), reject);
            },
            { noAck: !ack },
          );
        };
        start().catch(reject);
      });
    },
    async depth(queue) {
      return (await subCh.checkQueue(queue)).messageCount;
    },
    async teardown(exchange) {
      await subCh.deleteExchange(exchange);
      await pub.close();
      await sub.close();
    },
  };
}

function cloudamqpDriver(): Driver {
  let pub: AMQPClient;
  let sub: AMQPClient;
  let pubCh: AMQPChannel;
  let confirmCh: AMQPChannel;
  let subCh: AMQPChannel;
  return {
    name: '@cloudamqp/amqp-client 4.1.1',
    async setup(exchange) {
      pub = new AMQPClient(url);
      sub = new AMQPClient(url);
      await pub.connect();
      await sub.connect();
      pubCh = await pub.channel();
      confirmCh = await pub.channel();
      await confirmCh.confirmSelect();
      subCh = await sub.channel();
      await subCh.exchangeDeclare(exchange, 'fanout', { durable: false });
    },
    async bindQueue(exchange) {
      const { name } = await subCh.queueDeclare('', { exclusive: true, autoDelete: true, durable: false });
      await subCh.queueBind(name, exchange, '');
      return name;
    },
    async publishAll(exchange, count) {
      // Each promise resolves once its frame is written to the socket; keep a bounded window in flight.
      const window: Promise<number>[] = [];
      for (let i = 0; i < count; i++) {
        window.push(pubCh.basicPublish(exchange, '', PAYLOAD));
        if (window.length === 1000) await Promise.all(window.splice(0));
      }
      await Promise.all(window);
    },
    async publishConfirmed(exchange, count) {
      // In confirm mode each promise resolves on the broker's confirm.
      const window: Promise<number>[] = [];
      for (let i = 0; i < count; i++) {
        window.push(confirmCh.basicPublish(exchange, '', PAYLOAD));
        if (window.length === CONFIRM_WINDOW) await Promise.all(window.splice(0));
      }
      await Promise.all(window);
    },
    consume(queue, count, ack) {
      return new Promise((resolve, reject) => {
        let received = 0;
        const start = async () => {
          if (ack) await subCh.basicQos(1000);
          const consumer = await subCh.basicConsume(queue, { noAck: !ack }, (msg) => {
            received++;
            if (ack && (received % 500 === 0 || received === count)) msg.ack(true).catch(reject);
            if (received === count) consumer.cancel().then(() => resolve(), reject);
          });
        };
        start().catch(reject);
      });
    },
    async depth(queue) {
      return (await subCh.queueDeclare(queue, { passive: true })).messageCount;
    },
    async teardown(exchange) {
      await subCh.exchangeDelete(exchange);
      await pub.close();
      await sub.close();
    },
  };
}

async function measure(driver: Driver, round: number): Promise<Figures> {
  const exchange = `herald.bench.${process.pid}.${round}.${driver.name.split(' ')[0]!.replace(/\W/g, '')}`;
  await driver.setup(exchange);
  const figures = {} as Figures;
  const timed = async (phase: Phase, run: () => Promise<unknown>) => {
    const cpu = process.cpuUsage();
    const t = performance.now();
    await run();
    const ms = performance.now() - t;
    const used = process.cpuUsage(cpu);
    figures[phase] = { rate: Math.round(N / (ms / 1000)), cpuUs: round2((used.user + used.system) / N) };
  };
  try {
    // Publish into a queue with no consumer: the publisher side alone.
    let queue = await driver.bindQueue(exchange);
    await timed('publish', () => driver.publishAll(exchange, N));
    await waitForDepth(driver, queue, N);
    await timed('consumeNoAck', () => driver.consume(queue, N, false));

    queue = await driver.bindQueue(exchange);
    await timed('publishConfirmed', () => driver.publishConfirmed(exchange, N));
    await waitForDepth(driver, queue, N);
    await timed('consumeAck', () => driver.consume(queue, N, true));

    queue = await driver.bindQueue(exchange);
    const endToEndQueue = queue;
    await timed('endToEnd', () => Promise.all([driver.consume(endToEndQueue, N, false), driver.publishAll(exchange, N)]));
    return figures;
  } finally {
    await driver.teardown(exchange);
  }
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}

/** Waits until RabbitMQ reports the queue holds `depth` ready messages. */
async function waitForDepth(driver: Driver, queue: string, depth: number): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if ((await driver.depth(queue)) >= depth) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`queue ${queue} never reached ${depth} messages`);
}

const drivers = [amqplibDriver, cloudamqpDriver];
const results = new Map<string, Figures[]>();
const runtime = typeof Bun === 'undefined' ? `Node ${process.version}` : `Bun ${Bun.version}`;
console.log(`${runtime}, ${N} messages of ${PAYLOAD.length} B, ${ROUNDS} rounds, ${url.replace(/\/\/[^@]*@/, '//')}`);
for (let round = 0; round < ROUNDS; round++) {
  const order = round % 2 === 0 ? drivers : [...drivers].reverse();
  for (const make of order) {
    const driver = make();
    const figures = await measure(driver, round);
    console.log(`round ${round + 1} ${driver.name.padEnd(30)} ${JSON.stringify(figures)}`);
    results.set(driver.name, [...(results.get(driver.name) ?? []), figures]);
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
console.log(`\nmedian of ${ROUNDS} rounds: msgs/s (client CPU µs per message)`);
console.log(`${''.padEnd(30)}${PHASES.map((p) => p.padStart(22)).join('')}`);
for (const [name, all] of results) {
  const cell = (phase: Phase) =>
    `${median(all.map((f) => f[phase].rate))} (${median(all.map((f) => f[phase].cpuUs))})`.padStart(22);
  console.log(`${name.padEnd(30)}${PHASES.map(cell).join('')}`);
}
