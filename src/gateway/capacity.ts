import { readFileSync } from 'node:fs';

/** File descriptors kept for the listener, the bus, logs and HTTP requests. */
const RESERVED_DESCRIPTORS = 200;

/**
 * Sockets this process can hold: its soft open-file limit less a reserve. Past it an upgrade
 * gets 503 at_capacity instead of an accept() failure that the client sees as a reset.
 */
export function maxConnectionsForThisProcess(limitsFile = '/proc/self/limits'): number {
  try {
    const line = readFileSync(limitsFile, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line?.split(/\s{2,}/)[1];
    if (soft && /^\d+$/.test(soft)) return Math.max(1, Number(soft) - RESERVED_DESCRIPTORS);
  } catch {
    // Not Linux: no limit known, none enforced here.
  }
  return Number.POSITIVE_INFINITY;
}
