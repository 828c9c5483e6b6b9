import type { Bus } from '../bus/bus.js';
import type { Logger } from '../log.js';
import type { RevocationStore } from './revocation-store.js';

/**
 * The revocation store that goes with a bus: a JetStream KV bucket on the NATS bus, a
 * RabbitMQ stream on the AMQP bus. The local bus has none: revocations then live in the one
 * process.
 */
export async function createRevocationStore(bus: Bus, log: Logger): Promise<RevocationStore | undefined> {
  if (bus.name === 'amqp') {
    const [{ AmqpBus }, { AmqpRevocationStore, revocationStreamFor }] = await Promise.all([
      import('../bus/amqp.js'),
      import('./amqp-revocation-store.js'),
    ]);
    if (!(bus instanceof AmqpBus)) return undefined;
    return new AmqpRevocationStore({ url: bus.url, stream: revocationStreamFor(bus.exchange), log });
  }
  if (bus.name !== 'nats') return undefined;
  const [{ NatsBus }, { NatsRevocationStore }] = await Promise.all([
    import('../bus/nats.js'),
    import('./nats-revocation-store.js'),
  ]);
  return bus instanceof NatsBus ? new NatsRevocationStore({ bus, log }) : undefined;
}
