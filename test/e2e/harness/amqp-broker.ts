import type { Broker } from '../cluster.case.js';
// Through the package entry, as a backend service imports it.
import { connectAmqpPublisher, type HeraldPublisher } from 'herald/publisher';
import { createLogger } from '../../../src/log.js';
import { AMQP_URL, deleteTopology, lockBroker, restoreBroker, startBroker, stopBroker, uniqueExchange } from './rabbitmq.js';

/**
 * The cluster suite's broker: the shared RabbitMQ with an exchange of this suite's own.
 * The file holds the broker lock from start to stop, since `down` stops the broker for everyone.
 */
export async function startAmqpBroker(): Promise<Broker> {
  const unlock = await lockBroker();
  const exchange = uniqueExchange('cluster');
  return {
    env: { HERALD_BUS: 'amqp', HERALD_AMQP_URL: AMQP_URL, HERALD_AMQP_EXCHANGE: exchange },
    down: stopBroker,
    up: startBroker,
    async stop() {
      try {
        await restoreBroker();
        await deleteTopology(exchange);
      } finally {
        await unlock();
      }
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
