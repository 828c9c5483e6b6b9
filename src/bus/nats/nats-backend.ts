import type { Config } from '../../config.js';
import type { Backend, BackendOptions } from '../create-backend.js';
import { NatsBus } from './nats-bus.js';

const STREAM_BYTES_PER_MEMORY_BYTE = 4;

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
    // The stream keeps the window on disk, up to 4 × what a pod may hold in memory: resumes older
    // than a pod's memory are read from it.
    eventLog:
      config.recoveryWindowS > 0
        ? { stream: config.natsStream, windowS: config.recoveryWindowS, maxBytes: config.recoveryMaxBytes * STREAM_BYTES_PER_MEMORY_BYTE }
        : undefined,
    // A pod starts not ready and keeps trying; a publisher client fails fast.
    waitForBroker: !options.publishOnly,
  });
  return { bus, revocationStore: bus.createRevocationStore(log) };
}
