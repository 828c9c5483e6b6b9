import { createAmqpBackend } from '../bus/amqp/amqp-backend.js';
import { DEFAULT_AMQP_EXCHANGE, DEFAULT_AMQP_URL } from '../config.js';
import { createLogger, type Logger } from '../log.js';
import { connectPublisher } from './connect-publisher.js';
import type { HeraldPublisher, HeraldPublisherOptions } from './publisher.js';

export interface AmqpPublisherOptions extends Pick<HeraldPublisherOptions, 'maxTokenLifetimeMs' | 'clockSkewMs'> {
  /** The gateway's HERALD_AMQP_URL; default `amqp://guest:guest@127.0.0.1:5672`. */
  url?: string;
  /** The gateway's HERALD_AMQP_EXCHANGE; default `herald.events`. */
  exchange?: string;
  /** Default: JSON lines on stdout at `warn`. */
  log?: Logger;
}

/**
 * A publisher on the gateways' AMQP fanout exchange: it publishes only (no queue), reconnects
 * by itself with backoff, and appends user revocations to the same RabbitMQ stream as the pods.
 * Rejects with BusUnavailableError when the first connection fails.
 */
export function connectAmqpPublisher(options: AmqpPublisherOptions = {}): Promise<HeraldPublisher> {
  const log = options.log ?? createLogger('warn', { component: 'publisher' });
  const backend = createAmqpBackend({
    config: { amqpUrl: options.url ?? DEFAULT_AMQP_URL, amqpExchange: options.exchange ?? DEFAULT_AMQP_EXCHANGE },
    log,
    publishOnly: true,
    clientName: 'herald-publisher',
  });
  return connectPublisher(backend, options);
}
