import type { Revocations } from './revocations.js';

/**
 * Keeps revocations (user disconnects) for every pod, present and future, so that a pod
 * started after a revocation refuses the revoked tokens too. The gateway never asks the
 * store at upgrade time: the store copies itself into the in-memory table (`start`) and
 * keeps the copy current, so checking a token costs no network round trip.
 */
export interface RevocationStore {
  readonly name: string;
  /**
   * Loads every kept revocation into `table`, then keeps following the store. Resolves once
   * the table holds everything the store held; until then it keeps retrying (never rejects
   * unless closed). The pod is not ready before it resolves.
   */
  start(table: Revocations): Promise<void>;
  /**
   * Stores "tokens of `userId` issued before `revokedAtMs` are refused" for at least `keepMs`.
   * Rejects with BusUnavailableError when the store cannot take it: nothing was stored.
   */
  record(userId: string, revokedAtMs: number, keepMs: number): Promise<void>;
  close(): Promise<void>;
}
