import { createNatsBackend } from '../bus/nats/nats-backend.js';
import { DEFAULT_NATS_STREAM, DEFAULT_NATS_SUBJECT, DEFAULT_RECOVERY_MAX_BYTES, DEFAULT_RECOVERY_WINDOW_S } from '../config.js';
import { createLogger, type Logger } from '../log.js';
import { connectPublisher } from './connect-publisher.js';
import type { HeraldPublisher, HeraldPublisherOptions } from './publisher.js';

export interface NatsPublisherOptions extends Pick<HeraldPublisherOptions, 'maxTokenLifetimeMs' | 'clockSkewMs'> {
  /** The gateway's HERALD_NATS_URL, as a list. */
  servers: string[];
  /** The gateway's HERALD_NATS_SUBJECT; default `herald.events`. */
  subject?: string;
  /** Default: JSON lines on stdout at `warn`. */
  log?: Logger;
  /**
   * The gateways' HERALD_RECOVERY_WINDOW_S (default 300): above 0, every emit resolves once the
   * event log's stream has stored it, and what one tick emits is stored together; 0 publishes on
   * core NATS, as pods with recovery off expect.
   */
  recoveryWindowS?: number;
  /** The gateways' HERALD_NATS_STREAM; default `HERALD_EVENTS`. */
  stream?: string;
}

/**
 * A publisher on the gateways' NATS subject: it publishes only (no subscription), reconnects
 * by itself, and stores user revocations in the same JetStream bucket as the pods.
 */
export function connectNatsPublisher(options: NatsPublisherOptions): Promise<HeraldPublisher> {
  const log = options.log ?? createLogger('warn', { component: 'publisher' });
  const backend = createNatsBackend({
    config: {
      natsServers: options.servers,
      natsSubject: options.subject ?? DEFAULT_NATS_SUBJECT,
      natsStream: options.stream ?? DEFAULT_NATS_STREAM,
      recoveryWindowS: options.recoveryWindowS ?? DEFAULT_RECOVERY_WINDOW_S,
      // Used only when the publisher is first and creates the stream; pods set their own.
      recoveryMaxBytes: DEFAULT_RECOVERY_MAX_BYTES,
    },
    log,
    publishOnly: true,
    clientName: 'herald-publisher',
  });
  return connectPublisher(backend, options);
}
