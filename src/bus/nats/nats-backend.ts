import type { Config } from '../../config.js';
import type { Backend, BackendOptions } from '../create-backend.js';
import { NatsBus } from './nats-bus.js';

/** The NATS backend: one core subject between pods, revocations in a JetStream KV bucket. */
export function createNatsBackend(options: BackendOptions<Pick<Config, 'natsServers' | 'natsSubject'>>): Backend {
  const { config, log } = options;
  const bus = new NatsBus({
    servers: config.natsServers,
    subject: config.natsSubject,
    log,
    name: options.clientName,
    publishOnly: options.publishOnly,
    // A pod starts not ready and keeps trying; a publisher client fails fast.
    waitForBroker: !options.publishOnly,
  });
  return { bus, revocationStore: bus.createRevocationStore(log) };
}
