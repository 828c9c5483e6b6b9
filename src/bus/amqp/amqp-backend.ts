import type { Config } from '../../config.js';
import type { Backend, BackendOptions } from '../create-backend.js';
import { AmqpBus } from './amqp-bus.js';

/** The AMQP backend: the original design's fanout exchange, revocations in a RabbitMQ stream beside it. */
export function createAmqpBackend(options: BackendOptions<Pick<Config, 'amqpUrl' | 'amqpExchange'>>): Backend {
  const { config, log } = options;
  const bus = new AmqpBus({
    url: config.amqpUrl,
    exchange: config.amqpExchange,
    log,
    publishOnly: options.publishOnly,
    connectionName: options.clientName,
    // A pod starts not ready and keeps trying; a publisher client fails fast.
    waitForBroker: !options.publishOnly,
  });
  return { bus, revocationStore: bus.createRevocationStore(log) };
}
