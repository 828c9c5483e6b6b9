import type { Config } from '../../config.js';
import type { Backend, BackendOptions } from '../create-backend.js';
import { NatsBus } from './nats-bus.js';

/** The NATS backend: the events subject (captured by the event log's stream while recovery is on), revocations in a JetStream KV bucket. */
export function createNatsBackend(
  options: BackendOptions<Pick<Config, 'natsServers' | 'natsSubject' | 'natsStream' | 'recoveryWindowS' | 'recoveryMaxBytes'>>,
): Backend {
  const { config, log } = options;
  const bus = new NatsBus({
    servers: config.natsServers,
    subject: config.natsSubject,
    log,
    name: options.clientName,
    publishOnly: options.publishOnly,
    // The log's stream keeps as many bytes as a pod may hold in memory, for as long as the window.
    eventLog:
      config.recoveryWindowS > 0
        ? { stream: config.natsStream, windowS: config.recoveryWindowS, maxBytes: config.recoveryMaxBytes }
        : undefined,
  });
  return { bus, revocationStore: bus.createRevocationStore(log) };
}
