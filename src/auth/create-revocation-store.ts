import type { Bus } from '../bus/bus.js';
import type { Logger } from '../log.js';
import type { RevocationStore } from './revocation-store.js';

/**
 * The revocation store that goes with a bus: a JetStream KV bucket on the NATS bus. Other
 * buses have none yet: revocations then live in each pod and travel on the bus, so a pod
 * started after a revocation does not know it.
 */
export async function createRevocationStore(bus: Bus, log: Logger): Promise<RevocationStore | undefined> {
  if (bus.name !== 'nats') return undefined;
  const [{ NatsBus }, { NatsRevocationStore }] = await Promise.all([
    import('../bus/nats.js'),
    import('./nats-revocation-store.js'),
  ]);
  return bus instanceof NatsBus ? new NatsRevocationStore({ bus, log }) : undefined;
}
