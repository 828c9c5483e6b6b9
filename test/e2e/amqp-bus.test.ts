import amqplib from 'amqplib';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { AmqpRevocationStore, revocationStreamFor } from '../../src/bus/amqp/amqp-revocation-store.js';
import { Revocations, type Revocation } from '../../src/auth/revocations.js';
import { AmqpBus, type AmqpBusOptions } from '../../src/bus/amqp/amqp-bus.js';
import { BrokerAuthenticationError, BusUnavailableError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { runBusContractCases } from './bus.case.js';
import { AMQP_URL, deleteTopology, startAmqpRelay, uniqueExchange } from './harness/rabbitmq.js';
import { numbered, numbersIn } from './harness/bus-messages.js';
import { waitFor } from './harness/wait-for.js';

const log = createLogger('silent');
const userRevocation = (userId: string, revokedAt: number): Revocation => ({ userId, revokedAt, calledAt: revokedAt, user: true });
/** Whether the table refuses a token of that user and session issued at `iat`, seen only now. */
const revoked = (table: Revocations, userId: string, iat: number, sessionId = 'any') =>
  table.check({ userId, sessionId, iat, seenAt: Number.POSITIVE_INFINITY }) !== undefined;

/** The Bus guarantees and the revocation stream against the real RabbitMQ (no gateway). */
describe('AmqpBus and the AMQP revocation store', () => {
  const exchanges: string[] = [];
  const open: { close(): Promise<void> }[] = [];
  const track = <T extends { close(): Promise<void> }>(thing: T): T => (open.push(thing), thing);
  const freshExchange = () => {
    const exchange = uniqueExchange('bus');
    exchanges.push(exchange);
    return exchange;
  };
  const newBus = (exchange: string, extra: Partial<AmqpBusOptions> = {}) =>
    track(new AmqpBus({ url: AMQP_URL, exchange, log, backoff: { initialMs: 50, maxMs: 500 }, ...extra }));

  afterEach(async () => {
    await Promise.all(open.splice(0).map((thing) => thing.close()));
  });
  afterAll(async () => {
    for (const exchange of exchanges) await deleteTopology(exchange);
  });

  runBusContractCases({ freshTopic: freshExchange, newBus });

  it('a burst far past the socket buffer waits for it to drain and arrives whole and in order', async () => {
    const exchange = freshExchange();
    const received: number[] = [];
    const sender = newBus(exchange, { publishOnly: true });
    const pod = newBus(exchange);
    await pod.start((stored) => received.push(...numbersIn(stored)));
    await sender.start(() => {});
    const count = 5_000;
    const publishes = Array.from({ length: count }, (_, n) => sender.publish(numbered(n, 16 * 1024)));
    await Promise.all(publishes);
    await waitFor('every message', () => received.length === count, 30_000);
    expect(received).toEqual(Array.from({ length: count }, (_, n) => n));
  });

  it('a batch travels as one AMQP message (a bundle) up to 128 KiB, as several past it, and unpacks whole and in order', async () => {
    const exchange = freshExchange();
    const stored: Uint8Array[] = [];
    const sender = newBus(exchange, { publishOnly: true });
    const pod = newBus(exchange);
    await pod.start((msg) => stored.push(msg as Uint8Array));
    await sender.start(() => {});
    const unpacked = () => stored.flatMap((msg) => numbersIn(msg));
    const count = (n: number) => Array.from({ length: n }, (_, i) => i);

    await sender.publishBatch(count(500).map((n) => numbered(n)));
    await waitFor('the batch', () => unpacked().length === 500);
    expect(unpacked()).toEqual(count(500));
    expect(stored).toHaveLength(1);

    stored.length = 0;
    await sender.publishBatch(count(3).map((n) => numbered(n, 50 * 1024)));
    await waitFor('the batch', () => unpacked().length === 3);
    expect(unpacked()).toEqual(count(3));
    expect(stored).toHaveLength(2);
  });

  it('after the broker drops its connection a bus is down, publishes reject, then it reconnects, re-declares and receives again', async () => {
    const exchange = freshExchange();
    const { relay, url } = await startAmqpRelay();
    track(relay);
    const statuses: boolean[] = [];
    const received: number[] = [];
    const pod = track(new AmqpBus({ url, exchange, log, backoff: { initialMs: 1_000, maxMs: 1_000 } }));
    pod.onStatus((up) => statuses.push(up));
    await pod.start((stored) => received.push(...numbersIn(stored)));
    const sender = newBus(exchange, { publishOnly: true });
    await sender.start(() => {});

    expect(relay.connections).toBe(1);
    await relay.cut();
    await waitFor('the bus to go down', () => !pod.up);
    await expect(pod.publish(numbered(9))).rejects.toBeInstanceOf(BusUnavailableError);
    await relay.restore();
    await waitFor('the bus to come back', () => pod.up);
    expect(statuses).toEqual([true, false, true]);
    await sender.publish(numbered(7));
    await waitFor('the message after the reconnect', () => received.includes(7));
    expect(received).toEqual([7]);
  });

  it('start rejects with BusUnavailableError when the exchange exists with another type, or no broker listens, or the credentials are refused', async () => {
    const exchange = freshExchange();
    const connection = await amqplib.connect(AMQP_URL);
    try {
      await (await connection.createChannel()).assertExchange(exchange, 'direct', { durable: false });
    } finally {
      await connection.close();
    }
    await expect(newBus(exchange).start(() => {})).rejects.toBeInstanceOf(BusUnavailableError);
    const nowhere = new AmqpBus({ url: 'amqp://guest:guest@127.0.0.1:1', exchange, log });
    await expect(nowhere.start(() => {})).rejects.toThrow(/^cannot connect to RabbitMQ at amqp:\/\/guest:\*\*\*@127\.0\.0\.1:1 \(unreachable\)$/);
    expect(nowhere.up).toBe(false);
    const wrong = new URL(AMQP_URL);
    wrong.password = 'wrong-password';
    const refused = new AmqpBus({ url: wrong.toString(), exchange, log });
    await expect(refused.start(() => {})).rejects.toBeInstanceOf(BrokerAuthenticationError);
    await expect(refused.start(() => {})).rejects.toThrow(/authentication refused/);
  });

  it('a closed bus is down and rejects publishes: nothing is sent', async () => {
    const exchange = freshExchange();
    const seen: number[] = [];
    const watcher = newBus(exchange);
    await watcher.start((stored) => seen.push(...numbersIn(stored)));
    const bus = new AmqpBus({ url: AMQP_URL, exchange, log });
    await bus.start(() => {});
    await bus.close();
    expect(bus.up).toBe(false);
    await expect(bus.publish(numbered(1))).rejects.toBeInstanceOf(BusUnavailableError);
    await watcher.publish(numbered(2));
    await waitFor('the marker', () => seen.length > 0);
    expect(seen).toEqual([2]);
  });

  it('a revocation recorded by one store is loaded by a store started later; expired ones are not', async () => {
    const stream = revocationStreamFor(freshExchange());
    const writer = track(new AmqpRevocationStore({ url: AMQP_URL, stream, log }));
    const now = Date.now();
    await writer.record(userRevocation('u-revoked', now), 60 * 60 * 1000);
    await writer.record(userRevocation('u-expired', now - 2 * 60 * 60 * 1000), 60 * 60 * 1000);
    await writer.record({ userId: 'alice', sessionId: 's1', revokedAt: now, calledAt: now, user: false }, 60 * 60 * 1000);

    const table = new Revocations();
    const later = track(new AmqpRevocationStore({ url: AMQP_URL, stream, log }));
    await later.start(table);
    expect(later.current).toBe(true);
    expect(revoked(table, 'u-revoked', Math.floor(now / 1000) - 10)).toBe(true);
    expect(revoked(table, 'u-revoked', Math.floor(now / 1000) + 1)).toBe(false);
    expect(revoked(table, 'u-expired', Math.floor(now / 1000) - 3 * 60 * 60)).toBe(false);
    expect(revoked(table, 'alice', 0, 's1')).toBe(true);
    expect(revoked(table, 'alice', 0, 's2')).toBe(false);

    // It keeps following: a revocation recorded after its start arrives too.
    await writer.record(userRevocation('u-after', Date.now()), 60 * 60 * 1000);
    await waitFor('the later revocation', () => revoked(table, 'u-after', Math.floor(now / 1000) - 10));
  });
});
