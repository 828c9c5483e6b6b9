import { createNatsBackend } from '../bus/nats/nats-backend.js';
import { DEFAULT_NATS_SUBJECT } from '../config.js';
import { createLogger, type Logger } from '../log.js';
import { connectPublisher } from './connect-publisher.js';
import type { HeraldPublisher, HeraldPublisherOptions } from './publisher.js';

export interface NatsPublisherOptions extends Pick<HeraldPublisherOptions, 'maxTokenLifetimeMs'> {
  /** The gateway's HERALD_NATS_URL, as a list. */
  servers: string[];
  /** The gateway's HERALD_NATS_SUBJECT; default `herald.events`. */
  subject?: string;
  /** Default: JSON lines on stdout at `warn`. */
  log?: Logger;
}

/**
 * A publisher on the gateways' NATS subject: it publishes only (no subscription), reconnects
 * by itself, and stores user revocations in the same JetStream bucket as the pods.
 */
export function connectNatsPublisher(options: NatsPublisherOptions): Promise<HeraldPublisher> {
  const log = options.log ?? createLogger('warn', { component: 'publisher' });
  const backend = createNatsBackend({
    config: { natsServers: options.servers, natsSubject: options.subject ?? DEFAULT_NATS_SUBJECT },
    log,
    publishOnly: true,
    clientName: 'herald-publisher',
  });
  return connectPublisher(backend, options);
}
