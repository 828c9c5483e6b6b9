import type { Revocation, Revocations } from './revocations.js';

/**
 * Keeps revocations (user disconnects, session logouts) for every pod, present and future, so
 * that a pod started after a revocation, or cut off from the broker when it was made, refuses
 * the revoked tokens too. The gateway never asks the store at upgrade time: the store copies
 * itself into the in-memory table (`start`) and keeps the copy current, so checking a token
 * costs no network round trip. Every entry it delivers goes through `table.apply`, which closes
 * the sockets it covers.
 */
export interface RevocationStore {
  readonly name: string;
  /**
   * Loads every kept revocation into `table`, then keeps following the store. Resolves once
   * the table holds everything the store held; until then it keeps retrying (never rejects
   * unless closed). However long that takes: a pod is never ready with part of the table.
   */
  start(table: Revocations): Promise<void>;
  /**
   * True while the table holds everything the store holds, as far as the store can tell: false
   * until `start` has loaded, and again from a lost broker connection until the store has
   * caught up with what was written meanwhile. The pod is not ready while it is false.
   */
  readonly current: boolean;
  /**
   * Stores a revocation for at least `keepMs` (a store keeps the latest instants of a scope:
   * an earlier `revokedAt` never undoes a later one). `keepMs` comes from configuration, never
   * from a token. Rejects with BusUnavailableError when the store cannot take it: nothing was stored.
   */
  record(revocation: Revocation, keepMs: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * A revocation as a store keeps it: what `record` was given. Entries written before sessions
 * were kept hold `userId` and `revokedAt` only, so every other field may be missing.
 */
export type StoredRevocation = Partial<Revocation> & { revokedAt: number };
