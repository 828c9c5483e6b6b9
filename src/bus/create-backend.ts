import type { RevocationStore } from '../auth/revocation-store.js';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { Bus } from './bus.js';
import { LocalBus } from './local.js';

/** A broker's two services: the bus between pods and the store that keeps revocations for later pods. */
export interface Backend {
  bus: Bus;
  /** None on the local bus: revocations then live in the one process. */
  revocationStore: RevocationStore | undefined;
}

/** How a backend is made for a pod (`publishOnly: false`) or a publisher client (`true`). */
export interface BackendOptions<C = Config> {
  /** The configuration a backend reads: its own broker's part of Config. */
  config: C;
  log: Logger;
  /** A publisher client: sends without receiving. */
  publishOnly?: boolean;
  /** Shown by the broker's monitoring (connection name). */
  clientName?: string;
}

/** The backend HERALD_BUS names. Broker clients load only when their bus is chosen. */
export async function createBackend(options: BackendOptions): Promise<Backend> {
  switch (options.config.bus) {
    case 'local':
      return { bus: new LocalBus({ eventLog: options.config.recoveryWindowS > 0 }), revocationStore: undefined };
    case 'nats':
      return (await import('./nats/nats-backend.js')).createNatsBackend(options);
    case 'amqp':
      return (await import('./amqp/amqp-backend.js')).createAmqpBackend(options);
  }
}

/** The store that goes with a bus already made (embedders that made their own bus); none on the local bus. */
export async function createRevocationStore(bus: Bus, log: Logger): Promise<RevocationStore | undefined> {
  return bus.createRevocationStore?.(log);
}

/** The bus alone, for embedders who wire the gateway themselves. */
export async function createBus(config: Config, log: Logger): Promise<Bus> {
  return (await createBackend({ config, log })).bus;
}
