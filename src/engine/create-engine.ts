import type { Engine } from './engine.js';

/** Bun.serve under Bun, uWebSockets.js under Node: the same gateway on either runtime. */
export async function createEngine<Data>(): Promise<Engine<Data>> {
  if (typeof globalThis.Bun !== 'undefined') {
    const { createBunEngine } = await import('./bun.js');
    return createBunEngine<Data>();
  }
  const { createUwsEngine } = await import('./uws.js');
  return createUwsEngine<Data>();
}
