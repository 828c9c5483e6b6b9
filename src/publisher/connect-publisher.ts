import type { Backend } from '../bus/create-backend.js';
import { HeraldPublisher, type HeraldPublisherOptions } from './publisher.js';

/** Starts a publish-only backend's bus and wraps it: what every broker's connect function does. */
export async function connectPublisher(
  backend: Backend,
  options: Pick<HeraldPublisherOptions, 'maxTokenLifetimeMs' | 'clockSkewMs'>,
): Promise<HeraldPublisher> {
  await backend.bus.start(() => {});
  return new HeraldPublisher(backend.bus, {
    revocationStore: backend.revocationStore,
    maxTokenLifetimeMs: options.maxTokenLifetimeMs,
    clockSkewMs: options.clockSkewMs,
  });
}
