import amqplib from 'amqplib';
import { revocationStreamFor } from '../../../src/bus/amqp/amqp-revocation-store.js';
import { TcpProxy } from './tcp-proxy.js';

/**
 * The shared RabbitMQ for tests (HERALD_AMQP_URL, default the local one). Tests never stop it
 * or close its connections with rabbitmqctl — it may be the developer's own broker: an outage
 * is a relay of the test's own in front of it (startAmqpRelay) that the test cuts or freezes.
 */

export const AMQP_URL = process.env.HERALD_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

let counter = 0;
/** An exchange name no other test file or run uses, so runs never see each other's messages. */
export function uniqueExchange(purpose: string): string {
  return `herald.test.${purpose}.${process.pid}.${Date.now().toString(36)}.${++counter}`;
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
