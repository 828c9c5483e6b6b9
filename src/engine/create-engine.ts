import { createLogger } from '../log.js';
import type { Engine, EngineOptions } from './engine.js';

/** Bun.serve under Bun, uWebSockets.js under Node: the same gateway on either runtime. */
export async function createEngine<Data>(options: Partial<EngineOptions> = {}): Promise<Engine<Data>> {
  const resolved: EngineOptions = { log: options.log ?? createLogger('info') };
  if (typeof globalThis.Bun !== 'undefined') {
    const { createBunEngine } = await import('./bun.js');
    return createBunEngine<Data>(resolved);
  }
  const { createUwsEngine } = await import('./uws.js');
  return createUwsEngine<Data>(resolved);
}
