import { AmqpRevocationStore, revocationStreamFor } from '../auth/amqp-revocation-store.js';
import { AmqpBus } from '../bus/amqp.js';
import { createLogger, type Logger } from '../log.js';
import { HeraldPublisher, type HeraldPublisherOptions } from './publisher.js';

export interface AmqpPublisherOptions extends Pick<HeraldPublisherOptions, 'maxTokenLifetimeMs'> {
  /** The gateway's HERALD_AMQP_URL; default `amqp://guest:guest@127.0.0.1:5672`. */
  url?: string;
  /** The gateway's HERALD_AMQP_EXCHANGE; default `herald.events`. */
  exchange?: string;
  /** Default: JSON lines on stdout at `warn`. */
  log?: Logger;
}

/**
 * A publisher on the gateways' AMQP fanout exchange: it publishes only (no queue), reconnects
 * by itself with backoff, and appends user revocations to the same RabbitMQ stream as the pods. Rejects with BusUnavailableError when the first
 * connection fails.
 */
export async function connectAmqpPublisher(options: AmqpPublisherOptions = {}): Promise<HeraldPublisher> {
  const log = options.log ?? createLogger('warn', { component: 'publisher' });
  const url = options.url ?? 'amqp://guest:guest@127.0.0.1:5672';
  const exchange = options.exchange ?? 'herald.events';
  const bus = new AmqpBus({
    url,
    exchange,
    log,
    publishOnly: true,
    connectionName: 'herald-publisher',
  });
  await bus.start(() => {});
  return new HeraldPublisher(bus, {
    revocationStore: new AmqpRevocationStore({ url, stream: revocationStreamFor(exchange), log }),
    maxTokenLifetimeMs: options.maxTokenLifetimeMs,
  });
}
