import type { Broker } from '../cluster.case.js';
// Through the package entry, as a backend service imports it.
import { connectAmqpPublisher, type HeraldPublisher } from 'herald/publisher';
import { createLogger } from '../../../src/log.js';
import { deleteTopology, startAmqpRelay, uniqueExchange } from './rabbitmq.js';

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
