import { NatsRevocationStore } from '../auth/nats-revocation-store.js';
import { NatsBus } from '../bus/nats.js';
import { createLogger, type Logger } from '../log.js';
import { HeraldPublisher, type HeraldPublisherOptions } from './publisher.js';

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
export async function connectNatsPublisher(options: NatsPublisherOptions): Promise<HeraldPublisher> {
  const log = options.log ?? createLogger('warn', { component: 'publisher' });
  const bus = new NatsBus({
    servers: options.servers,
    subject: options.subject ?? 'herald.events',
    log,
    name: 'herald-publisher',
    publishOnly: true,
  });
  await bus.start(() => {});
  return new HeraldPublisher(bus, {
    revocationStore: new NatsRevocationStore({ bus, log }),
    maxTokenLifetimeMs: options.maxTokenLifetimeMs,
  });
}
