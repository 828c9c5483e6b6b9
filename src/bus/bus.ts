import type { RevocationStore } from '../auth/revocation-store.js';
import type { Logger } from '../log.js';

/**
 * Carries encoded messages (protocol/bus-format.ts) between pods.
 *
 * Guarantees: at-most-once; every pod, the sender included, receives every message; messages
 * from one publisher arrive in the order `publish` was called. `publish` resolves once the
 * message is handed to the broker (or delivered, for the local bus) and rejects with
 * BusUnavailableError when the broker is down, or MessageTooLargeError when one message is over
 * the broker's limit; in both cases nothing was sent.
 */
export interface Bus {
  readonly name: string;
  /**
   * Connects and subscribes; resolves once messages can flow both ways. A broker bus either
   * rejects with BusUnavailableError when it cannot connect (BrokerAuthenticationError when
   * the broker refused the credentials) or, made for a pod, keeps trying — each failure
   * logged — until it connects or is closed. `onMessage` never throws (the gateway contains its
   * own failures), so a bus calls it without a guard.
   */
  start(onMessage: (msg: Uint8Array) => void): Promise<void>;
  publish(msg: Uint8Array): Promise<void>;
  /**
   * Drives /readyz and herald_bus_up. False while the broker is unreachable and, on a pod's
   * bus, within 10 s of a broker that stops answering without closing the connection (a frozen
   * process, a partition); true again once messages flow.
   */
  readonly up: boolean;
  /** The largest message the broker takes, when it has a limit (NATS max_payload). */
  readonly maxMessageBytes?: number;
  /** Called on every change of `up`. */
  onStatus(listener: (up: boolean) => void): void;
  close(): Promise<void>;
  /** The store that keeps revocations beside this bus's broker for pods started later; none on the local bus. */
  createRevocationStore?(log: Logger): RevocationStore;
}
