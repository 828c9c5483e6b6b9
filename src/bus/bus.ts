import type { RevocationStore } from '../auth/revocation-store.js';
import type { Logger } from '../log.js';
import type { BusMessage, OutgoingMessage } from '../protocol/bus-format.js';
import type { EventLogInfo } from '../recovery/recovery.js';

/**
 * What a bus hands the router: the bytes a broker delivered (a message, or a bundle of several:
 * protocol/bus-format.ts), or — on the local bus — the messages of one publish as they were
 * made, never encoded.
 */
export type StoredMessage = Uint8Array | readonly BusMessage[];

/**
 * Called with each stored message in order. `position` is its place in the bus's event log
 * (1, 2, …; 0 on a bus without one). Event `seq` = position × 1024 + index in the stored message.
 */
export type BusMessageHandler = (stored: StoredMessage, position: number) => void;

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
   * A bus that keeps an event log (§6) calls `onLogOpened` before the first message, and
   * resolves only once it has delivered what the log held at start (the pod's warm-up).
   */
  start(onMessage: BusMessageHandler, onLogOpened?: (log: EventLogInfo) => void): Promise<void>;
  publish(msg: OutgoingMessage): Promise<void>;
  /**
   * One request's messages, in order, all or nothing as far as the bus can tell. A bus with
   * an event log stores them as one message (a bundle) when they fit, and resolves once stored.
   * A broker bus sends `outgoingBytes(msg)`.
   */
  publishBatch(messages: readonly OutgoingMessage[]): Promise<void>;
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
  /**
   * Reads the event log's stored messages `from`…`to` (positions) in order, for a resume older
   * than a pod's memory; false when the log no longer holds them all. Only a bus whose log
   * outlives a pod's memory has it (NATS).
   */
  readLog?(from: number, to: number, each: (stored: Uint8Array, position: number) => void, maxMessages: number): Promise<boolean>;
  /** The store that keeps revocations beside this bus's broker for pods started later; none on the local bus. */
  createRevocationStore?(log: Logger): RevocationStore;
}
