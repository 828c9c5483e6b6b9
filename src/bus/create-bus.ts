import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { Bus } from './bus.js';
import { LocalBus } from './local.js';

/** The bus HERALD_BUS names. Broker clients load only when their bus is chosen. */
export async function createBus(config: Config, log: Logger): Promise<Bus> {
  switch (config.bus) {
    case 'local':
      return new LocalBus();
    case 'nats': {
      const { NatsBus } = await import('./nats.js');
      return new NatsBus({ servers: config.natsServers, subject: config.natsSubject, log });
    }
    case 'amqp': {
      const { AmqpBus } = await import('./amqp.js');
      return new AmqpBus({ url: config.amqpUrl, exchange: config.amqpExchange, log });
    }
  }
}
