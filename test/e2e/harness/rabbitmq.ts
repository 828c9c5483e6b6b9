import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import amqplib from 'amqplib';
import { revocationStreamFor } from '../../../src/bus/amqp/amqp-revocation-store.js';
import { TcpProxy } from './tcp-proxy.js';

/**
 * The shared RabbitMQ for tests (HERALD_AMQP_URL, default the local one), driven with
 * `rabbitmqctl`. Several test files stop and start it, so a file holds the broker lock for
 * its whole run; a broker this process stopped is started again when the file ends, and,
 * failing that, when the process exits.
 */

export const AMQP_URL = process.env.HERALD_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const LOCK_FILE = join(tmpdir(), 'herald-rabbitmq-tests.lock');
const run = promisify(execFile);

let counter = 0;
/** An exchange name no other test file or run uses, so runs never see each other's messages. */
export function uniqueExchange(purpose: string): string {
  return `herald.test.${purpose}.${process.pid}.${Date.now().toString(36)}.${++counter}`;
}

/**
 * Waits for the cross-process lock on the broker (flock(1)) and holds it until the returned
 * function is called or this process ends: the lock is an flock child whose stdin is ours.
 */
export async function lockBroker(): Promise<() => Promise<void>> {
  const child: ChildProcess = spawn('flock', ['--exclusive', LOCK_FILE, '-c', 'echo locked; exec cat'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', () => resolve());
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`flock exited with ${code} before locking ${LOCK_FILE}`)));
  });
  return async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.stdin!.end();
    await exited;
  };
}

let stoppedByUs = false;
process.once('exit', () => {
  // Last resort (a crashed file): never leave the shared broker stopped.
  if (stoppedByUs) execFileSync('rabbitmqctl', ['start_app'], { stdio: 'ignore' });
});

/** `rabbitmqctl stop_app`: every connection drops, non-durable exchanges and exclusive queues go. */
export async function stopBroker(): Promise<void> {
  stoppedByUs = true;
  await run('rabbitmqctl', ['stop_app']);
}

/** `rabbitmqctl start_app`, resolving once the broker accepts AMQP clients again. */
export async function startBroker(): Promise<void> {
  await run('rabbitmqctl', ['start_app']);
  await run('rabbitmqctl', ['await_startup']);
  stoppedByUs = false;
}

/** Starts the broker again if this process stopped it: for afterAll and finally blocks. */
export async function restoreBroker(): Promise<void> {
  if (stoppedByUs) await startBroker();
}

/**
 * A relay of the test's own in front of the shared RabbitMQ, and the broker URL through it:
 * `cut()` is the broker going away for the pods behind it (every connection drops, new ones
 * are refused), `freeze()` the broker that stops answering, and nobody else's broker
 * connection notices either.
 */
export async function startAmqpRelay(): Promise<{ relay: TcpProxy; url: string }> {
  const broker = new URL(AMQP_URL);
  const relay = await TcpProxy.start(Number(broker.port || 5672), { protocol: 'tcp' });
  const url = new URL(AMQP_URL);
  url.hostname = '127.0.0.1';
  url.port = String(relay.port);
  return { relay, url: url.toString() };
}

/** Deletes what a test's pods declared on the broker: the exchange (it outlives their connections) and its revocation stream. */
export async function deleteTopology(exchange: string): Promise<void> {
  const connection = await amqplib.connect(AMQP_URL);
  try {
    const channel = await connection.createChannel();
    await channel.deleteExchange(exchange);
    await channel.deleteQueue(revocationStreamFor(exchange));
  } finally {
    await connection.close();
  }
}
