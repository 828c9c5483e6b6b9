import { EngineError } from '../errors.js';
import { createLogger } from '../log.js';
import type { Engine, EngineOptions } from './engine.js';

/** Bun.serve under Bun, uWebSockets.js under Node: the same gateway on either runtime. */
export async function createEngine<Data>(options: Partial<EngineOptions> = {}): Promise<Engine<Data>> {
  const resolved: EngineOptions = { log: options.log ?? createLogger('info') };
  if (typeof globalThis.Bun !== 'undefined') {
    const { createBunEngine } = await import('./bun.js');
    return createBunEngine<Data>(resolved);
  }
  let uws: typeof import('./uws.js');
  try {
    uws = await import('./uws.js');
  } catch (error) {
    // An install without optional dependencies (the Bun image's) has no uWebSockets.js.
    if ((error as { code?: string }).code === 'ERR_MODULE_NOT_FOUND' && String(error).includes('uWebSockets.js')) {
      throw new EngineError(
        'uWebSockets.js is not installed: it is an optional dependency, needed on Node (install without --omit=optional)',
        { cause: error },
      );
    }
    throw error;
  }
  return uws.createUwsEngine<Data>(resolved);
}
