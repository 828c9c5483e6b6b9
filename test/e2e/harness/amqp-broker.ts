import type { Broker } from '../cluster.case.js';
import type { RevocationBroker, TwoNodes } from '../revocation.case.js';
// Through the package entry, as a backend service imports it.
import { connectAmqpPublisher, type HeraldPublisher } from 'herald/publisher';
import { createLogger } from '../../../src/log.js';
import { AMQP_URL, deleteTopology, startAmqpRelay, uniqueExchange } from './rabbitmq.js';

/**
 * The cluster suite's broker: the shared RabbitMQ with an exchange of this suite's own, behind
 * a relay of its own. `down` cuts the relay — every connection of this suite's pods and
 * publisher drops and new ones are refused — and nobody else's broker notices.
 */
export async function startAmqpBroker(): Promise<Broker> {
  const { relay, url } = await startAmqpRelay();
  const exchange = uniqueExchange('cluster');
  return {
    env: { HERALD_BUS: 'amqp', HERALD_AMQP_URL: url, HERALD_AMQP_EXCHANGE: exchange },
    down: () => relay.cut(),
    up: () => relay.restore(),
    async stop() {
      await relay.close();
      await deleteTopology(exchange);
    },
  };
}

export function connectAmqpTestPublisher(broker: Broker): Promise<HeraldPublisher> {
  return connectAmqpPublisher({
    url: broker.env.HERALD_AMQP_URL!,
    exchange: broker.env.HERALD_AMQP_EXCHANGE!,
    log: createLogger('silent'),
  });
}

/** The revocation suite's broker: the shared RabbitMQ with an exchange (and revocation stream) of the test's own. */
export async function startFreshAmqpBroker(): Promise<RevocationBroker> {
  const exchange = uniqueExchange('revocation');
  const url = new URL(AMQP_URL);
  const env = (port: number) => {
    const via = new URL(AMQP_URL);
    via.port = String(port);
    return { HERALD_BUS: 'amqp', HERALD_AMQP_URL: via.toString(), HERALD_AMQP_EXCHANGE: exchange };
  };
  return {
    env: { HERALD_BUS: 'amqp', HERALD_AMQP_URL: AMQP_URL, HERALD_AMQP_EXCHANGE: exchange },
    port: Number(url.port || 5672),
    envVia: env,
    publisher: () => connectAmqpPublisher({ url: AMQP_URL, exchange, log: createLogger('silent') }),
    stop: () => deleteTopology(exchange),
  };
}

/** Two pods on the one broker (RabbitMQ here runs as a single node). */
export async function startAmqpTwoNodes(): Promise<TwoNodes> {
  const exchange = uniqueExchange('one-socket');
  const env = { HERALD_BUS: 'amqp', HERALD_AMQP_URL: AMQP_URL, HERALD_AMQP_EXCHANGE: exchange };
  return { envA: env, envB: env, stop: () => deleteTopology(exchange) };
}
