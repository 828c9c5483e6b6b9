import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import { NatsRevocationStore } from '../../src/bus/nats/nats-revocation-store.js';
import { MAX_REVOCATION_KEEP_MS, Revocations, type Revocation } from '../../src/auth/revocations.js';
import { NatsBus } from '../../src/bus/nats/nats-bus.js';
import { BusUnavailableError, MessageTooLargeError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { runBusContractCases } from './bus.case.js';
import { startNatsServer, stopAllNatsServers, type NatsServer } from './harness/nats-server.js';
import type { StoredMessage } from '../../src/bus/bus.js';
import { numbered, numbersIn } from './harness/bus-messages.js';
import { waitFor } from './harness/wait-for.js';

const log = createLogger('silent');
const userRevocation = (userId: string, revokedAt: number): Revocation => ({ userId, revokedAt, calledAt: revokedAt, user: true });
/** Whether the table refuses a token of that user and session issued at `iat`, seen only now. */
const revoked = (table: Revocations, userId: string, iat: number, sessionId = 'any') =>
  table.check({ userId, sessionId, iat, seenAt: Number.POSITIVE_INFINITY }) !== undefined;
let subjectCounter = 0;
const freshSubject = () => `herald.test.${process.pid}.${++subjectCounter}`;


/** JetStream may need a moment after a server restart before it takes writes. */
async function retry(attempt: () => Promise<void>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

/** The Bus guarantees and the revocation store, against a real nats-server (no gateway). */
describe('NatsBus and the NATS revocation store', () => {
  let server: NatsServer;
  const open: { close(): Promise<void> }[] = [];
  const track = <T extends { close(): Promise<void> }>(thing: T): T => (open.push(thing), thing);

  beforeAll(async () => {
    server = await startNatsServer();
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((thing) => thing.close()));
  });
  afterAll(stopAllNatsServers);

  const newBus = (subject: string, extra: Partial<ConstructorParameters<typeof NatsBus>[0]> = {}) =>
    track(new NatsBus({ servers: [server.url], subject, log, reconnectTimeWaitMs: 200, ...extra }));

  runBusContractCases({ freshTopic: freshSubject, newBus });

  it('refuses a message over the server max_payload with MessageTooLargeError and stays up', async () => {
    const subject = freshSubject();
    const received: number[] = [];
    const bus = newBus(subject);
    await bus.start((stored) => received.push(...numbersIn(stored)));
    await expect(bus.publish(numbered(1, 2 * 1024 * 1024))).rejects.toBeInstanceOf(MessageTooLargeError);
    expect(bus.up).toBe(true);
    await bus.publish(numbered(2));
    await waitFor('the small message', () => received.length === 1);
    expect(received).toEqual([2]);
  });

  it('sends a batch as one NATS message (a bundle) while it fits in max_payload, as several past it, whole and in order', async () => {
    const subject = freshSubject();
    const stored: StoredMessage[] = [];
    const sender = newBus(subject, { publishOnly: true });
    const pod = newBus(subject);
    await pod.start((msg) => stored.push(msg));
    await sender.start(() => {});
    const unpacked = () => stored.flatMap((msg) => numbersIn(msg));
    const count = (n: number) => Array.from({ length: n }, (_, i) => i);

    await sender.publishBatch(count(500).map((n) => numbered(n)));
    await waitFor('the batch', () => unpacked().length === 500);
    expect(unpacked()).toEqual(count(500));
    expect(stored).toHaveLength(1);

    stored.length = 0;
    // Three of 400 KiB under the server's 1 MiB max_payload: two fit in one message, the third goes alone.
    await sender.publishBatch(count(3).map((n) => numbered(n, 400 * 1024)));
    await waitFor('the large batch', () => unpacked().length === 3);
    expect(unpacked()).toEqual(count(3));
    expect(stored).toHaveLength(2);
  });

  it('publishes no message of a batch that holds one over the server max_payload', async () => {
    const subject = freshSubject();
    const received: number[] = [];
    const bus = newBus(subject);
    await bus.start((stored) => received.push(...numbersIn(stored)));
    const batch = [numbered(1), numbered(2, 2 * 1024 * 1024), numbered(3)];
    await expect(bus.publishBatch(batch)).rejects.toBeInstanceOf(MessageTooLargeError);
    await bus.publish(numbered(4));
    // One connection keeps order: had 1 or 3 gone out, they would have arrived before 4.
    await waitFor('the message after the refused batch', () => received.includes(4));
    expect(received).toEqual([4]);
  });

  it('while the server is down: up is false, publish rejects with BusUnavailableError and nothing is sent later', async () => {
    const subject = freshSubject();
    const statuses: boolean[] = [];
    const seen: number[] = [];
    const bus = newBus(subject);
    bus.onStatus((up) => statuses.push(up));
    await bus.start((stored) => seen.push(...numbersIn(stored)));
    expect(bus.up).toBe(true);

    await server.kill();
    await waitFor('the bus to notice', () => !bus.up);
    await expect(bus.publish(numbered(1))).rejects.toBeInstanceOf(BusUnavailableError);

    await server.restart();
    await waitFor('the bus to reconnect', () => bus.up, 15_000);
    await bus.publish(numbered(2));
    await waitFor('the message after the outage', () => seen.includes(2));
    // The refused message was not buffered and sent on reconnect.
    expect(seen).toEqual([2]);
    expect(statuses).toEqual([true, false, true]);
  });

  it('cannot start when no server answers, with a BusUnavailableError naming the servers', async () => {
    const bus = new NatsBus({ servers: ['nats://127.0.0.1:1'], subject: freshSubject(), log });
    await expect(bus.start(() => {})).rejects.toThrow(/nats:\/\/127\.0\.0\.1:1/);
  });

  it('a revocation recorded by one store is loaded by a store started later, and followed live by a running one', async () => {
    const bucket = `herald_test_${process.pid}_${++subjectCounter}`;
    const bus = newBus(freshSubject(), { publishOnly: true });
    await bus.start(() => {});
    const writer = track(new NatsRevocationStore({ bus, log, bucket }));
    const runningTable = new Revocations();
    const running = track(new NatsRevocationStore({ bus, log, bucket }));
    await running.start(runningTable);
    expect(running.current).toBe(true);

    const revokedAt = Date.now();
    await writer.record(userRevocation('user with spaces/and:colons', revokedAt), 48 * 3600_000);
    await writer.record({ userId: 'alice', sessionId: 's.1', revokedAt, calledAt: revokedAt, user: false }, 48 * 3600_000);
    await writer.record({ sessionId: 'shared', revokedAt, calledAt: revokedAt, user: false }, 48 * 3600_000);
    await waitFor('the running store to apply them', () => runningTable.size === 3);
    expect(revoked(runningTable, 'user with spaces/and:colons', Math.floor(revokedAt / 1000) - 1)).toBe(true);

    const lateTable = new Revocations();
    await track(new NatsRevocationStore({ bus, log, bucket })).start(lateTable);
    expect(revoked(lateTable, 'user with spaces/and:colons', Math.floor(revokedAt / 1000) - 1)).toBe(true);
    expect(revoked(lateTable, 'user with spaces/and:colons', Math.floor(revokedAt / 1000) + 1)).toBe(false);
    expect(revoked(lateTable, 'someone else', 0)).toBe(false);
    expect(revoked(lateTable, 'alice', 0, 's.1')).toBe(true);
    expect(revoked(lateTable, 'alice', 0, 's.2')).toBe(false);
    expect(revoked(lateTable, 'bob', 0, 'shared')).toBe(true);

    // The bucket keeps entries for the keep its creator (the running store) was configured with; recording never changes it.
    const jsm = await jetstreamManager(bus.connection);
    const info = await jsm.streams.info(`KV_${bucket}`);
    expect(info.config.max_age).toBe(runningTable.keepMs * 1_000_000);
  });

  it('keeps the latest instants of a key whatever order writers store them in', async () => {
    const bucket = `herald_test_${process.pid}_${++subjectCounter}`;
    const bus = newBus(freshSubject(), { publishOnly: true });
    await bus.start(() => {});
    const writer = track(new NatsRevocationStore({ bus, log, bucket }));
    await writer.record(userRevocation('u1', 5_000_000_000_000), 3600_000);
    await writer.record(userRevocation('u1', 1_000_000_000_000), 3600_000);
    await Promise.all([2, 3, 4].map((n) => writer.record(userRevocation('u1', n * 1_000_000_000_000), 3600_000)));
    const table = new Revocations();
    await track(new NatsRevocationStore({ bus, log, bucket })).start(table);
    expect(revoked(table, 'u1', 4_999_999_999)).toBe(true);
  });

  it('a pod sets the bucket TTL from its configuration: up to its keep, and down from one no configuration allows', async () => {
    const bucket = `herald_test_${process.pid}_${++subjectCounter}`;
    const bus = newBus(freshSubject(), { publishOnly: true });
    await bus.start(() => {});
    const jsm = await jetstreamManager(bus.connection);
    const maxAge = async () => (await jsm.streams.info(`KV_${bucket}`)).config.max_age / 1_000_000;
    // A publisher created the bucket with a short keep.
    await track(new NatsRevocationStore({ bus, log, bucket })).record(userRevocation('u1', Date.now()), 3600_000);
    expect(await maxAge()).toBe(3600_000);
    const table = new Revocations({ maxTokenLifetimeMs: 7 * 24 * 3600_000, clockSkewMs: 30_000 });
    await track(new NatsRevocationStore({ bus, log, bucket, maxKeepMs: MAX_REVOCATION_KEEP_MS })).start(table);
    expect(await maxAge()).toBe(table.keepMs);
    // A hundred-year TTL (what a token once set) comes back to the pod's keep.
    await jsm.streams.update(`KV_${bucket}`, { max_age: 100 * 365 * 24 * 3600_000 * 1_000_000 });
    await track(new NatsRevocationStore({ bus, log, bucket, maxKeepMs: MAX_REVOCATION_KEEP_MS })).start(new Revocations());
    expect(await maxAge()).toBe(new Revocations().keepMs);
  });

  it('record rejects with BusUnavailableError while NATS is down; a running store is not current until it has caught up after NATS returns', async () => {
    const bucket = `herald_test_${process.pid}_${++subjectCounter}`;
    const bus = newBus(freshSubject(), { publishOnly: true });
    await bus.start(() => {});
    const store = track(new NatsRevocationStore({ bus, log, bucket, retryMs: 200 }));
    const table = new Revocations();
    await store.start(table);
    await store.record(userRevocation('u1', Date.now()), 3600_000);
    await waitFor('the first revocation to be followed', () => table.size === 1);
    await server.kill();
    await waitFor('the bus to notice', () => !bus.up);
    expect(store.current).toBe(false);
    await expect(store.record(userRevocation('u2', Date.now()), 3600_000)).rejects.toBeInstanceOf(BusUnavailableError);
    await server.restart();
    await waitFor('the bus to reconnect', () => bus.up, 15_000);
    await retry(() => store.record(userRevocation('u3', Date.now()), 3600_000));
    await waitFor('the revocation written after the restart to be followed', () => revoked(table, 'u3', 0), 15_000);
    await waitFor('the store to be current again', () => store.current, 15_000);
    expect(revoked(table, 'u2', 0)).toBe(false);
  });
});
